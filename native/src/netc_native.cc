// netc's native convolution kernels: oneDNN (DNNL 2.x) behind a small N-API surface.
//
// Layouts are TensorFlow.js's: activations NHWC, filters HWIO ([kh, kw, in, out]); grouped filters
// are [kh, kw, in/groups, out] with out = groups * out/groups (oneDNN's hwigo, which is also
// tfjs's depthwise [kh, kw, in, multiplier] layout when groups == in). Tensors are Float32Arrays,
// typically views into the tfjs wasm backend's heap, read and written in place (no copies).
// Activations stay NHWC (no reorders of big tensors); filters are reordered to whatever blocked
// layout oneDNN's fastest implementation wants (they are small).
//
// JS API (all synchronous):
//   conv2d(op, a, b, c, d, params)  op 0: forward          a=x,  b=w,  c=bias|null,  d=y
//                                   op 1: backward data    a=dy, b=w,  c=null,       d=dx
//                                   op 2: backward weights a=x,  b=dy, c=dbias|null, d=dw
//   params: Int32Array [N,H,W,Ci, KH,KW,Co, OH,OW, sh,sw, dh,dw, pt,pb,pl,pr, groups, relu]
//   implInfo(op, params, hasBias) -> oneDNN's implementation name for that primitive
//   setThreads(n), getThreads(), version()
#include <node_api.h>
#include <omp.h>

#include <cstdint>
#include <cstring>
#include <memory>
#include <mutex>
#include <sstream>
#include <string>
#include <unordered_map>
#include <vector>

#include "oneapi/dnnl/dnnl.hpp"

using dnnl::memory;
using tag = dnnl::memory::format_tag;
using dt = dnnl::memory::data_type;

namespace {

constexpr int kParams = 19;

struct Params {
  int64_t n, h, w, ci, kh, kw, co, oh, ow, sh, sw, dh, dw, pt, pb, pl, pr, groups, relu;
};

dnnl::engine& eng() {
  static dnnl::engine e(dnnl::engine::kind::cpu, 0);
  return e;
}
dnnl::stream& strm() {
  static dnnl::stream s(eng());
  return s;
}

struct Entry {
  int op = 0;
  bool hasBias = false;
  dnnl::primitive prim;
  memory::desc actIn, actOut;        // NHWC descs of the primitive's src/dst (or diff) tensors
  memory::desc userW, primW;         // HWIO (user) and the primitive's weights layout
  memory::desc biasMd;
  bool reorderW = false;
  dnnl::reorder wReorder;            // fwd/bwd-data: user -> prim; bwd-weights: prim -> user
  std::shared_ptr<memory> wScratch;  // the primitive-layout copy of the weights
  std::string impl;
};

std::unordered_map<std::string, std::unique_ptr<Entry>> cache;

memory::desc actDesc(int64_t n, int64_t h, int64_t w, int64_t c) {
  return memory::desc({n, c, h, w}, dt::f32, tag::nhwc);
}

memory::dims weightDims(const Params& p) {
  if (p.groups > 1) return {p.groups, p.co / p.groups, p.ci / p.groups, p.kh, p.kw};
  return {p.co, p.ci, p.kh, p.kw};
}

memory::desc weightDesc(const Params& p, bool any) {
  return memory::desc(weightDims(p), dt::f32, any ? tag::any : (p.groups > 1 ? tag::hwigo : tag::hwio));
}

std::string keyOf(int op, const Params& p, bool hasBias) {
  std::ostringstream k;
  k << op << (hasBias ? 'b' : '-');
  const int64_t* v = &p.n;
  for (int i = 0; i < kParams; i++) k << ',' << v[i];
  return k.str();
}

Entry& getEntry(int op, const Params& p, bool hasBias) {
  std::string key = keyOf(op, p, hasBias);
  auto it = cache.find(key);
  if (it != cache.end()) return *it->second;

  auto e = std::make_unique<Entry>();
  e->op = op;
  e->hasBias = hasBias;
  memory::desc src = actDesc(p.n, p.h, p.w, p.ci);
  memory::desc dst = actDesc(p.n, p.oh, p.ow, p.co);
  memory::desc wAny = weightDesc(p, true);
  e->userW = weightDesc(p, false);
  e->biasMd = memory::desc({p.co}, dt::f32, tag::x);
  memory::desc noBias;
  memory::dims strides = {p.sh, p.sw};
  memory::dims dil = {p.dh - 1, p.dw - 1};  // oneDNN counts dilation from 0
  memory::dims padL = {p.pt, p.pl};
  memory::dims padR = {p.pb, p.pr};
  const auto algo = dnnl::algorithm::convolution_direct;

  dnnl::convolution_forward::desc fd(dnnl::prop_kind::forward_training, algo, src, wAny,
                                     (op != 1 && hasBias) ? e->biasMd : noBias, dst, strides, dil, padL, padR);
  dnnl::primitive_attr attr;
  if (op == 0 && p.relu) {
    dnnl::post_ops po;
    po.append_eltwise(1.f, dnnl::algorithm::eltwise_relu, 0.f, 0.f);
    attr.set_post_ops(po);
  }
  dnnl::convolution_forward::primitive_desc fpd(fd, attr, eng());

  if (op == 0) {
    e->prim = dnnl::convolution_forward(fpd);
    e->primW = fpd.weights_desc();
    e->actIn = src;
    e->actOut = dst;
    e->impl = fpd.impl_info_str();
  } else if (op == 1) {
    dnnl::convolution_backward_data::desc bd(algo, src, wAny, dst, strides, dil, padL, padR);
    dnnl::convolution_backward_data::primitive_desc bpd(bd, eng(), fpd);
    e->prim = dnnl::convolution_backward_data(bpd);
    e->primW = bpd.weights_desc();
    e->actIn = dst;   // diff_dst
    e->actOut = src;  // diff_src
    e->impl = bpd.impl_info_str();
  } else {
    dnnl::convolution_backward_weights::desc bd =
        hasBias ? dnnl::convolution_backward_weights::desc(algo, src, wAny, e->biasMd, dst, strides, dil, padL, padR)
                : dnnl::convolution_backward_weights::desc(algo, src, wAny, dst, strides, dil, padL, padR);
    dnnl::convolution_backward_weights::primitive_desc bpd(bd, eng(), fpd);
    e->prim = dnnl::convolution_backward_weights(bpd);
    e->primW = bpd.diff_weights_desc();
    e->actIn = src;
    e->actOut = dst;  // diff_dst (an input here)
    e->impl = bpd.impl_info_str();
  }
  e->reorderW = e->primW != e->userW;
  if (e->reorderW) {
    e->wScratch = std::make_shared<memory>(e->primW, eng());
    memory userMem(e->userW, eng(), DNNL_MEMORY_NONE);
    e->wReorder = (op == 2) ? dnnl::reorder(*e->wScratch, userMem) : dnnl::reorder(userMem, *e->wScratch);
  }
  Entry& ref = *e;
  cache.emplace(key, std::move(e));
  return ref;
}

// ---- N-API plumbing --------------------------------------------------------------------------

#define NAPI_OK(call)                                        \
  do {                                                       \
    if ((call) != napi_ok) {                                 \
      napi_throw_error(env, nullptr, "N-API call failed: " #call); \
      return nullptr;                                        \
    }                                                        \
  } while (0)

struct F32 {
  float* data = nullptr;
  size_t length = 0;
  bool present = false;
};

// A Float32Array argument (or null/undefined when `optional`).
bool getF32(napi_env env, napi_value v, bool optional, F32* out, const char* what) {
  napi_valuetype t;
  napi_typeof(env, v, &t);
  if (optional && (t == napi_null || t == napi_undefined)) return true;
  bool isTa = false;
  napi_is_typedarray(env, v, &isTa);
  if (!isTa) {
    std::string msg = std::string(what) + " must be a Float32Array";
    napi_throw_type_error(env, nullptr, msg.c_str());
    return false;
  }
  napi_typedarray_type tt;
  size_t len;
  void* data;
  napi_value ab;
  size_t off;
  napi_get_typedarray_info(env, v, &tt, &len, &data, &ab, &off);
  if (tt != napi_float32_array) {
    std::string msg = std::string(what) + " must be a Float32Array";
    napi_throw_type_error(env, nullptr, msg.c_str());
    return false;
  }
  out->data = static_cast<float*>(data);
  out->length = len;
  out->present = true;
  return true;
}

bool getParams(napi_env env, napi_value v, Params* p) {
  bool isTa = false;
  napi_is_typedarray(env, v, &isTa);
  napi_typedarray_type tt = napi_int8_array;
  size_t len = 0;
  void* data = nullptr;
  napi_value ab;
  size_t off;
  if (isTa) napi_get_typedarray_info(env, v, &tt, &len, &data, &ab, &off);
  if (!isTa || tt != napi_int32_array || len != kParams) {
    napi_throw_type_error(env, nullptr, "params must be an Int32Array of 19 conv parameters");
    return false;
  }
  const int32_t* a = static_cast<const int32_t*>(data);
  int64_t* dstp = &p->n;
  for (int i = 0; i < kParams; i++) dstp[i] = a[i];
  if (p->groups < 1 || p->ci % p->groups || p->co % p->groups || p->sh < 1 || p->sw < 1 || p->dh < 1 || p->dw < 1) {
    napi_throw_range_error(env, nullptr, "invalid conv parameters (groups, strides or dilations)");
    return false;
  }
  // Output size must agree with the pads (oneDNN checks too, with a less helpful message).
  const int64_t eh = (p->kh - 1) * p->dh + 1, ew = (p->kw - 1) * p->dw + 1;
  if ((p->h + p->pt + p->pb - eh) / p->sh + 1 != p->oh || (p->w + p->pl + p->pr - ew) / p->sw + 1 != p->ow) {
    napi_throw_range_error(env, nullptr, "conv output size does not match input size, pads and strides");
    return false;
  }
  return true;
}

bool checkLen(napi_env env, const F32& t, int64_t want, const char* what) {
  if (static_cast<int64_t>(t.length) != want) {
    std::string msg = std::string(what) + ": expected " + std::to_string(want) + " elements, got " + std::to_string(t.length);
    napi_throw_range_error(env, nullptr, msg.c_str());
    return false;
  }
  return true;
}

napi_value Conv2d(napi_env env, napi_callback_info info) {
  size_t argc = 6;
  napi_value argv[6];
  NAPI_OK(napi_get_cb_info(env, info, &argc, argv, nullptr, nullptr));
  if (argc < 6) {
    napi_throw_type_error(env, nullptr, "conv2d(op, a, b, c, d, params)");
    return nullptr;
  }
  int32_t op;
  if (napi_get_value_int32(env, argv[0], &op) != napi_ok || op < 0 || op > 2) {
    napi_throw_range_error(env, nullptr, "op must be 0 (forward), 1 (backward data) or 2 (backward weights)");
    return nullptr;
  }
  Params p;
  if (!getParams(env, argv[5], &p)) return nullptr;
  F32 a, b, c, d;
  if (!getF32(env, argv[1], false, &a, "a") || !getF32(env, argv[2], false, &b, "b") ||
      !getF32(env, argv[3], true, &c, "c") || !getF32(env, argv[4], false, &d, "d"))
    return nullptr;
  const int64_t xN = p.n * p.h * p.w * p.ci, yN = p.n * p.oh * p.ow * p.co;
  const int64_t wN = p.kh * p.kw * (p.ci / p.groups) * p.co;
  bool ok = true;
  if (op == 0) ok = checkLen(env, a, xN, "x") && checkLen(env, b, wN, "filter") && checkLen(env, d, yN, "y") && (!c.present || checkLen(env, c, p.co, "bias"));
  if (op == 1) ok = checkLen(env, a, yN, "dy") && checkLen(env, b, wN, "filter") && checkLen(env, d, xN, "dx");
  if (op == 2) ok = checkLen(env, a, xN, "x") && checkLen(env, b, yN, "dy") && checkLen(env, d, wN, "dw") && (!c.present || checkLen(env, c, p.co, "dbias"));
  if (!ok) return nullptr;

  try {
    Entry& e = getEntry(op, p, c.present);
    dnnl::stream& s = strm();
    if (op == 0 || op == 1) {
      memory userW(e.userW, eng(), b.data);
      memory w = userW;
      if (e.reorderW) {
        e.wReorder.execute(s, userW, *e.wScratch);
        w = *e.wScratch;
      }
      memory in(e.actIn, eng(), a.data);
      memory out(e.actOut, eng(), d.data);
      if (op == 0) {
        std::unordered_map<int, memory> args{{DNNL_ARG_SRC, in}, {DNNL_ARG_WEIGHTS, w}, {DNNL_ARG_DST, out}};
        if (c.present) args.emplace(DNNL_ARG_BIAS, memory(e.biasMd, eng(), c.data));
        e.prim.execute(s, args);
      } else {
        e.prim.execute(s, {{DNNL_ARG_DIFF_DST, in}, {DNNL_ARG_WEIGHTS, w}, {DNNL_ARG_DIFF_SRC, out}});
      }
    } else {
      memory x(e.actIn, eng(), a.data);
      memory dy(e.actOut, eng(), b.data);
      memory userW(e.userW, eng(), d.data);
      memory dw = e.reorderW ? *e.wScratch : userW;
      std::unordered_map<int, memory> args{{DNNL_ARG_SRC, x}, {DNNL_ARG_DIFF_DST, dy}, {DNNL_ARG_DIFF_WEIGHTS, dw}};
      if (c.present) args.emplace(DNNL_ARG_DIFF_BIAS, memory(e.biasMd, eng(), c.data));
      e.prim.execute(s, args);
      if (e.reorderW) e.wReorder.execute(s, *e.wScratch, userW);
    }
    s.wait();
  } catch (const dnnl::error& err) {
    std::string msg = std::string("oneDNN: ") + err.what() + " (status " + std::to_string(static_cast<int>(err.status)) + ")";
    napi_throw_error(env, nullptr, msg.c_str());
    return nullptr;
  } catch (const std::exception& err) {
    napi_throw_error(env, nullptr, err.what());
    return nullptr;
  }
  return nullptr;
}

napi_value ImplInfo(napi_env env, napi_callback_info info) {
  size_t argc = 3;
  napi_value argv[3];
  NAPI_OK(napi_get_cb_info(env, info, &argc, argv, nullptr, nullptr));
  int32_t op = 0;
  bool hasBias = false;
  if (argc < 2 || napi_get_value_int32(env, argv[0], &op) != napi_ok || op < 0 || op > 2) {
    napi_throw_type_error(env, nullptr, "implInfo(op, params, hasBias)");
    return nullptr;
  }
  if (argc > 2) napi_get_value_bool(env, argv[2], &hasBias);
  Params p;
  if (!getParams(env, argv[1], &p)) return nullptr;
  try {
    Entry& e = getEntry(op, p, hasBias);
    std::string s = e.impl + (e.reorderW ? " (filter reordered)" : "");
    napi_value r;
    NAPI_OK(napi_create_string_utf8(env, s.c_str(), s.size(), &r));
    return r;
  } catch (const dnnl::error& err) {
    napi_throw_error(env, nullptr, (std::string("oneDNN: ") + err.what()).c_str());
    return nullptr;
  }
}

napi_value SetThreads(napi_env env, napi_callback_info info) {
  size_t argc = 1;
  napi_value argv[1];
  NAPI_OK(napi_get_cb_info(env, info, &argc, argv, nullptr, nullptr));
  int32_t n = 0;
  if (argc < 1 || napi_get_value_int32(env, argv[0], &n) != napi_ok || n < 1) {
    napi_throw_range_error(env, nullptr, "setThreads(n) needs n >= 1");
    return nullptr;
  }
  omp_set_num_threads(n);
  return nullptr;
}

napi_value GetThreads(napi_env env, napi_callback_info) {
  napi_value r;
  NAPI_OK(napi_create_int32(env, omp_get_max_threads(), &r));
  return r;
}

napi_value Version(napi_env env, napi_callback_info) {
  const dnnl_version_t* v = dnnl_version();
  std::string s = "oneDNN " + std::to_string(v->major) + "." + std::to_string(v->minor) + "." + std::to_string(v->patch);
  napi_value r;
  NAPI_OK(napi_create_string_utf8(env, s.c_str(), s.size(), &r));
  return r;
}

napi_value Init(napi_env env, napi_value exports) {
  napi_property_descriptor props[] = {
      {"conv2d", nullptr, Conv2d, nullptr, nullptr, nullptr, napi_default, nullptr},
      {"implInfo", nullptr, ImplInfo, nullptr, nullptr, nullptr, napi_default, nullptr},
      {"setThreads", nullptr, SetThreads, nullptr, nullptr, nullptr, napi_default, nullptr},
      {"getThreads", nullptr, GetThreads, nullptr, nullptr, nullptr, napi_default, nullptr},
      {"version", nullptr, Version, nullptr, nullptr, nullptr, napi_default, nullptr},
  };
  napi_define_properties(env, exports, sizeof(props) / sizeof(props[0]), props);
  return exports;
}

}  // namespace

NAPI_MODULE(NODE_GYP_MODULE_NAME, Init)
