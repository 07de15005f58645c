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
//   params: Int32Array, one entry per field of NETC_CONV_PARAMS below, in its order
//   convParamNames() -> that table's field names, which src/runtime/native.ts checks on load
//   implInfo(op, params, hasBias) -> oneDNN's implementation name for that primitive
//   bnForward(x, gamma, beta, y, mean, variance, invStd, eps)   training-mode batch norm, NHWC
//   bnBackward(x, dy, mean, invStd, gamma, dx, dgamma, dbeta)   (f32 tensors, f64 statistics)
//   reluGrad(dy, x, dx)                                        dx = x > 0 ? dy : 0
//   maxPoolGrad(x, dy, dx, params)   NHWC max pool gradient (PyTorch's tie rule); params: an Int32Array
//                                    in NETC_POOL_PARAMS's order, poolParamNames() -> its field names
//   setThreads(n), getThreads(), version()
#include <node_api.h>
#include <omp.h>

#include <algorithm>
#include <cmath>
#include <cstddef>
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

// The convolution's parameters, the one table both sides index by: src/runtime/native.ts's
// CONV_PARAMS lists the same names in the same order (test/runtime/native-params.test.ts reads this
// macro and compares, and the loader compares convParamNames() with it). A new field goes in both
// lists; everything here (the struct, the count, the names, the cache key) follows from this one.
//   n, h, w, ci   input batch, height, width, channels (NHWC)
//   kh, kw, co    filter height, width, output channels (HWIO)
//   oh, ow        output height, width
//   sh, sw        strides;  dh, dw  dilations (1 = none, tfjs's convention)
//   pt, pb, pl, pr  padding top, bottom, left, right
//   groups        1, or the group count (in-channels for depthwise);  relu  fused ReLU (forward only)
#define NETC_CONV_PARAMS(X) \
  X(n) X(h) X(w) X(ci) X(kh) X(kw) X(co) X(oh) X(ow) X(sh) X(sw) X(dh) X(dw) X(pt) X(pb) X(pl) X(pr) X(groups) X(relu)

struct Params {
#define NETC_FIELD(name) int64_t name;
  NETC_CONV_PARAMS(NETC_FIELD)
#undef NETC_FIELD
};

constexpr const char* kParamNames[] = {
#define NETC_NAME(name) #name,
    NETC_CONV_PARAMS(NETC_NAME)
#undef NETC_NAME
};
constexpr int kParams = static_cast<int>(sizeof(kParamNames) / sizeof(kParamNames[0]));

// Params is read and written as an array of kParams int64s (getParams, keyOf): it must hold exactly
// the table's fields, in the table's order, with no padding.
static_assert(sizeof(Params) == kParams * sizeof(int64_t), "Params must be exactly the NETC_CONV_PARAMS fields");
static_assert(offsetof(Params, n) == 0 && offsetof(Params, relu) == (kParams - 1) * sizeof(int64_t),
              "Params must follow NETC_CONV_PARAMS's order");
static_assert(kParams == 19, "the conv parameter table changed: update CONV_PARAMS in src/runtime/native.ts too");

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
// Node worker threads share this module's statics: one call at a time owns the cache and the
// entries' weight scratch buffers (oneDNN itself parallelises inside each call).
std::mutex convMutex;

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

template <typename T>
struct Arr {
  T* data = nullptr;
  size_t length = 0;
  bool present = false;
};
using F32 = Arr<float>;
using F64 = Arr<double>;

template <typename T>
constexpr napi_typedarray_type arrayType();
template <>
constexpr napi_typedarray_type arrayType<float>() { return napi_float32_array; }
template <>
constexpr napi_typedarray_type arrayType<double>() { return napi_float64_array; }

// A Float32Array / Float64Array argument (or null/undefined when `optional`).
template <typename T>
bool getArr(napi_env env, napi_value v, bool optional, Arr<T>* out, const char* what) {
  const char* kind = arrayType<T>() == napi_float32_array ? " must be a Float32Array" : " must be a Float64Array";
  napi_valuetype t;
  napi_typeof(env, v, &t);
  if (optional && (t == napi_null || t == napi_undefined)) return true;
  bool isTa = false;
  napi_is_typedarray(env, v, &isTa);
  if (!isTa) {
    napi_throw_type_error(env, nullptr, (std::string(what) + kind).c_str());
    return false;
  }
  napi_typedarray_type tt;
  size_t len;
  void* data;
  napi_value ab;
  size_t off;
  napi_get_typedarray_info(env, v, &tt, &len, &data, &ab, &off);
  if (tt != arrayType<T>()) {
    napi_throw_type_error(env, nullptr, (std::string(what) + kind).c_str());
    return false;
  }
  out->data = static_cast<T*>(data);
  out->length = len;
  out->present = true;
  return true;
}

// Reads a parameter table (an Int32Array of exactly `count` entries, in its X-macro's order) into
// `dst`, a struct of `count` int64_t fields. Throws a TypeError naming `what` otherwise.
bool getTable(napi_env env, napi_value v, int64_t* dst, int count, const char* what) {
  bool isTa = false;
  napi_is_typedarray(env, v, &isTa);
  napi_typedarray_type tt = napi_int8_array;
  size_t len = 0;
  void* data = nullptr;
  napi_value ab;
  size_t off;
  if (isTa) napi_get_typedarray_info(env, v, &tt, &len, &data, &ab, &off);
  if (!isTa || tt != napi_int32_array || len != static_cast<size_t>(count)) {
    const std::string msg = "params must be an Int32Array of " + std::to_string(count) + " " + what + " parameters";
    napi_throw_type_error(env, nullptr, msg.c_str());
    return false;
  }
  const int32_t* a = static_cast<const int32_t*>(data);
  for (int i = 0; i < count; i++) dst[i] = a[i];
  return true;
}

bool getParams(napi_env env, napi_value v, Params* p) {
  if (!getTable(env, v, &p->n, kParams, "conv")) return false;
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

template <typename T>
bool checkLen(napi_env env, const Arr<T>& t, int64_t want, const char* what) {
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
  if (!getArr(env, argv[1], false, &a, "a") || !getArr(env, argv[2], false, &b, "b") ||
      !getArr(env, argv[3], true, &c, "c") || !getArr(env, argv[4], false, &d, "d"))
    return nullptr;
  const int64_t xN = p.n * p.h * p.w * p.ci, yN = p.n * p.oh * p.ow * p.co;
  const int64_t wN = p.kh * p.kw * (p.ci / p.groups) * p.co;
  bool ok = true;
  if (op == 0) ok = checkLen(env, a, xN, "x") && checkLen(env, b, wN, "filter") && checkLen(env, d, yN, "y") && (!c.present || checkLen(env, c, p.co, "bias"));
  if (op == 1) ok = checkLen(env, a, yN, "dy") && checkLen(env, b, wN, "filter") && checkLen(env, d, xN, "dx");
  if (op == 2) ok = checkLen(env, a, xN, "x") && checkLen(env, b, yN, "dy") && checkLen(env, d, wN, "dw") && (!c.present || checkLen(env, c, p.co, "dbias"));
  if (!ok) return nullptr;

  try {
    std::lock_guard<std::mutex> lock(convMutex);
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
    std::lock_guard<std::mutex> lock(convMutex);
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

// ---- Batch normalisation (training mode), channels-last ---------------------------------------
// The fused typed-array BN of src/lower/batchnorm.ts, natively: statistics in double, biased
// variance; rows are split across the OpenMP threads, each with its own per-channel accumulators.

// Per-channel sums over rows of f(row, k) for two accumulators, reduced across threads.
template <typename F>
void channelSums(int64_t rows, int64_t c, double* s1, double* s2, F f) {
  std::fill(s1, s1 + c, 0.0);
  std::fill(s2, s2 + c, 0.0);
  std::mutex m;
#pragma omp parallel
  {
    std::vector<double> a(c, 0.0), b(c, 0.0);
#pragma omp for schedule(static)
    for (int64_t r = 0; r < rows; r++) f(r, a.data(), b.data());
    std::lock_guard<std::mutex> lock(m);
    for (int64_t k = 0; k < c; k++) {
      s1[k] += a[k];
      s2[k] += b[k];
    }
  }
}

// bnForward(x, gamma, beta, y, mean, variance, invStd, eps): x, y [rows, C] f32; gamma, beta [C] f32;
// mean, variance, invStd [C] f64 outputs.
napi_value BnForward(napi_env env, napi_callback_info info) {
  size_t argc = 8;
  napi_value argv[8];
  NAPI_OK(napi_get_cb_info(env, info, &argc, argv, nullptr, nullptr));
  F32 x, gamma, beta, y;
  F64 mean, var, inv;
  double eps = 0;
  if (argc < 8 || !getArr(env, argv[0], false, &x, "x") || !getArr(env, argv[1], false, &gamma, "gamma") ||
      !getArr(env, argv[2], false, &beta, "beta") || !getArr(env, argv[3], false, &y, "y") ||
      !getArr(env, argv[4], false, &mean, "mean") || !getArr(env, argv[5], false, &var, "variance") ||
      !getArr(env, argv[6], false, &inv, "invStd") || napi_get_value_double(env, argv[7], &eps) != napi_ok) {
    if (argc < 8) napi_throw_type_error(env, nullptr, "bnForward(x, gamma, beta, y, mean, variance, invStd, eps)");
    return nullptr;
  }
  const int64_t c = gamma.length;
  if (c == 0 || x.length % c || !checkLen(env, beta, c, "beta") || !checkLen(env, y, x.length, "y") ||
      !checkLen(env, mean, c, "mean") || !checkLen(env, var, c, "variance") || !checkLen(env, inv, c, "invStd")) {
    if (c == 0 || x.length % c) napi_throw_range_error(env, nullptr, "x's length is not a multiple of the channel count");
    return nullptr;
  }
  const int64_t rows = x.length / c;
  const float* xp = x.data;
  // Shifted sums (by the first row) keep the one-pass variance exact enough in double.
  std::vector<double> shift(xp, xp + c), s1(c), s2(c);
  const double* sh = shift.data();
  channelSums(rows, c, s1.data(), s2.data(), [&](int64_t r, double* a, double* b) {
    const float* row = xp + r * c;
    for (int64_t k = 0; k < c; k++) {
      const double d = row[k] - sh[k];
      a[k] += d;
      b[k] += d * d;
    }
  });
  std::vector<float> scale(c), offs(c);
  for (int64_t k = 0; k < c; k++) {
    const double m1 = s1[k] / rows;
    const double v = std::max(0.0, s2[k] / rows - m1 * m1);
    mean.data[k] = sh[k] + m1;
    var.data[k] = v;
    inv.data[k] = 1.0 / std::sqrt(v + eps);
    const double sc = gamma.data[k] * inv.data[k];
    scale[k] = static_cast<float>(sc);
    offs[k] = static_cast<float>(beta.data[k] - mean.data[k] * sc);
  }
  float* yp = y.data;
  const float* scp = scale.data();
  const float* ofp = offs.data();
#pragma omp parallel for schedule(static)
  for (int64_t r = 0; r < rows; r++) {
    const float* xr = xp + r * c;
    float* yr = yp + r * c;
    for (int64_t k = 0; k < c; k++) yr[k] = xr[k] * scp[k] + ofp[k];
  }
  return nullptr;
}

// bnBackward(x, dy, mean, invStd, gamma, dx, dgamma, dbeta): gradients of the training-mode forward.
napi_value BnBackward(napi_env env, napi_callback_info info) {
  size_t argc = 8;
  napi_value argv[8];
  NAPI_OK(napi_get_cb_info(env, info, &argc, argv, nullptr, nullptr));
  F32 x, dy, gamma, dx, dgamma, dbeta;
  F64 mean, inv;
  if (argc < 8 || !getArr(env, argv[0], false, &x, "x") || !getArr(env, argv[1], false, &dy, "dy") ||
      !getArr(env, argv[2], false, &mean, "mean") || !getArr(env, argv[3], false, &inv, "invStd") ||
      !getArr(env, argv[4], false, &gamma, "gamma") || !getArr(env, argv[5], false, &dx, "dx") ||
      !getArr(env, argv[6], false, &dgamma, "dgamma") || !getArr(env, argv[7], false, &dbeta, "dbeta")) {
    if (argc < 8) napi_throw_type_error(env, nullptr, "bnBackward(x, dy, mean, invStd, gamma, dx, dgamma, dbeta)");
    return nullptr;
  }
  const int64_t c = gamma.length;
  if (c == 0 || x.length % c) {
    napi_throw_range_error(env, nullptr, "x's length is not a multiple of the channel count");
    return nullptr;
  }
  if (!checkLen(env, dy, x.length, "dy") || !checkLen(env, dx, x.length, "dx") || !checkLen(env, mean, c, "mean") ||
      !checkLen(env, inv, c, "invStd") || !checkLen(env, dgamma, c, "dgamma") || !checkLen(env, dbeta, c, "dbeta"))
    return nullptr;
  const int64_t rows = x.length / c;
  const float* xp = x.data;
  const float* dyp = dy.data;
  std::vector<float> meanF(c);
  for (int64_t k = 0; k < c; k++) meanF[k] = static_cast<float>(mean.data[k]);
  const float* mp = meanF.data();
  std::vector<double> sumDy(c), sumDyXc(c);
  channelSums(rows, c, sumDy.data(), sumDyXc.data(), [&](int64_t r, double* a, double* b) {
    const float* xr = xp + r * c;
    const float* dr = dyp + r * c;
    for (int64_t k = 0; k < c; k++) {
      a[k] += dr[k];
      b[k] += static_cast<double>(dr[k]) * (xr[k] - mp[k]);
    }
  });
  // dx = gamma*invStd * (dy - dbeta/M - (x - mean) * dgamma*invStd/M)
  std::vector<float> A(c), B(c), M(c);
  for (int64_t k = 0; k < c; k++) {
    const double dg = sumDyXc[k] * inv.data[k];
    dgamma.data[k] = static_cast<float>(dg);
    dbeta.data[k] = static_cast<float>(sumDy[k]);
    A[k] = static_cast<float>(gamma.data[k] * inv.data[k]);
    B[k] = static_cast<float>(sumDy[k] / rows);
    M[k] = static_cast<float>(dg * inv.data[k] / rows);
  }
  float* dxp = dx.data;
  const float *ap = A.data(), *bp = B.data(), *mm = M.data();
#pragma omp parallel for schedule(static)
  for (int64_t r = 0; r < rows; r++) {
    const float* xr = xp + r * c;
    const float* dr = dyp + r * c;
    float* o = dxp + r * c;
    for (int64_t k = 0; k < c; k++) o[k] = ap[k] * (dr[k] - bp[k] - (xr[k] - mp[k]) * mm[k]);
  }
  return nullptr;
}

// reluGrad(dy, x, dx): dx = x > 0 ? dy : +0 (tfjs composes this from Step, Cast and Multiply).
napi_value ReluGrad(napi_env env, napi_callback_info info) {
  size_t argc = 3;
  napi_value argv[3];
  NAPI_OK(napi_get_cb_info(env, info, &argc, argv, nullptr, nullptr));
  F32 dy, x, dx;
  if (argc < 3) {
    napi_throw_type_error(env, nullptr, "reluGrad(dy, x, dx)");
    return nullptr;
  }
  if (!getArr(env, argv[0], false, &dy, "dy") || !getArr(env, argv[1], false, &x, "x") || !getArr(env, argv[2], false, &dx, "dx") ||
      !checkLen(env, x, dy.length, "x") || !checkLen(env, dx, dy.length, "dx"))
    return nullptr;
  const int64_t n = dy.length;
  // Branch-free bit mask: written as a select (x > 0 ? dy : 0) GCC emits a branch that mispredicts
  // on half of the random signs, 10 ms per 2M elements instead of 0.6 ms.
  const uint32_t* __restrict d = reinterpret_cast<const uint32_t*>(dy.data);
  const float* __restrict xp = x.data;
  uint32_t* __restrict o = reinterpret_cast<uint32_t*>(dx.data);
#pragma omp parallel for schedule(static) if (n > (1 << 18))
  for (int64_t i = 0; i < n; i++) o[i] = d[i] & (0u - static_cast<uint32_t>(xp[i] > 0.f));
  return nullptr;
}

// ---- Max pool gradient, channels-last ---------------------------------------------------------
// The pooling geometry, one table both sides index by: src/runtime/native.ts's POOL_PARAMS lists the
// same names in the same order (test/runtime/native-params.test.ts compares the two, and native.ts
// uses maxPoolGrad only when poolParamNames() equals it).
//   n, h, w, c    input batch, height, width, channels (NHWC)
//   oh, ow        output height, width
//   kh, kw        window height, width;  sh, sw  strides;  dh, dw  dilations (1 = none)
//   pt, pl        padding before the first row / column (windows past the end are clipped, so the
//                 padding after, and ceil mode, need no field of their own)
#define NETC_POOL_PARAMS(X) X(n) X(h) X(w) X(c) X(oh) X(ow) X(kh) X(kw) X(sh) X(sw) X(dh) X(dw) X(pt) X(pl)

struct PoolParams {
#define NETC_FIELD(name) int64_t name;
  NETC_POOL_PARAMS(NETC_FIELD)
#undef NETC_FIELD
};

constexpr const char* kPoolParamNames[] = {
#define NETC_NAME(name) #name,
    NETC_POOL_PARAMS(NETC_NAME)
#undef NETC_NAME
};
constexpr int kPoolParams = static_cast<int>(sizeof(kPoolParamNames) / sizeof(kPoolParamNames[0]));
static_assert(sizeof(PoolParams) == kPoolParams * sizeof(int64_t), "PoolParams must be exactly the NETC_POOL_PARAMS fields");
static_assert(kPoolParams == 14, "the pool parameter table changed: update POOL_PARAMS in src/runtime/native.ts too");

bool getPoolParams(napi_env env, napi_value v, PoolParams* p) {
  if (!getTable(env, v, &p->n, kPoolParams, "pool")) return false;
  if (p->n < 0 || p->h < 1 || p->w < 1 || p->c < 0 || p->oh < 0 || p->ow < 0 || p->kh < 1 || p->kw < 1 || p->sh < 1 || p->sw < 1 ||
      p->dh < 1 || p->dw < 1 || p->pt < 0 || p->pl < 0) {
    napi_throw_range_error(env, nullptr, "invalid pool parameters (sizes, strides, dilations or pads)");
    return false;
  }
  return true;
}

// First window offset (a multiple of the dilation d, below the window's extent k*d) that lands at
// or after index 0, for a window starting at `start` (negative inside the leading padding).
inline int64_t firstInside(int64_t start, int64_t d) { return start >= 0 ? 0 : (-start + d - 1) / d * d; }

// maxPoolGrad(x, dy, dx, params): dx = the gradient of an NHWC max pool. dx is overwritten (zeroed
// first). Each dy goes to the first maximum of its window in row-major order, PyTorch's rule: the
// first element inside the input starts the window, a later one takes it only when strictly greater
// or NaN; padding is never chosen. The batch is split across the OpenMP threads (windows of one
// image overlap and add into the same dx, windows of different images never do). Per window the
// arg-max runs across channels, the contiguous axis, as a branch-free select the compiler vectorises.
napi_value MaxPoolGrad(napi_env env, napi_callback_info info) {
  size_t argc = 4;
  napi_value argv[4];
  NAPI_OK(napi_get_cb_info(env, info, &argc, argv, nullptr, nullptr));
  if (argc < 4) {
    napi_throw_type_error(env, nullptr, "maxPoolGrad(x, dy, dx, params)");
    return nullptr;
  }
  F32 x, dy, dx;
  PoolParams p;
  if (!getArr(env, argv[0], false, &x, "x") || !getArr(env, argv[1], false, &dy, "dy") || !getArr(env, argv[2], false, &dx, "dx") ||
      !getPoolParams(env, argv[3], &p))
    return nullptr;
  const int64_t c = p.c, h = p.h, w = p.w;
  const int64_t image = h * w * c, outImage = p.oh * p.ow * c;
  if (!checkLen(env, x, p.n * image, "x") || !checkLen(env, dy, p.n * outImage, "dy") || !checkLen(env, dx, p.n * image, "dx")) return nullptr;
  if (c == 0) return nullptr;
  const float* xp = x.data;
  const float* dyp = dy.data;
  float* dxp = dx.data;
#pragma omp parallel if (p.n > 1 && image * p.n > (1 << 16))
  {
    std::vector<float> bestV(c);
    std::vector<int32_t> atV(c);
    float* __restrict best = bestV.data();
    int32_t* __restrict at = atV.data();
#pragma omp for schedule(static)
    for (int64_t b = 0; b < p.n; b++) {
      const float* __restrict xi = xp + b * image;
      const float* __restrict dyi = dyp + b * outImage;
      float* __restrict dxi = dxp + b * image;
      std::fill(dxi, dxi + image, 0.f);
      for (int64_t oh = 0; oh < p.oh; oh++) {
        const int64_t h0 = oh * p.sh - p.pt;
        const int64_t khFirst = firstInside(h0, p.dh);
        for (int64_t ow = 0; ow < p.ow; ow++) {
          const float* __restrict g = dyi + (oh * p.ow + ow) * c;
          const int64_t w0 = ow * p.sw - p.pl;
          const int64_t kwFirst = firstInside(w0, p.dw);
          // The window's first element inside the input (none: the window is all padding, no gradient).
          const int64_t ih0 = h0 + khFirst, iw0 = w0 + kwFirst;
          if (khFirst >= p.kh * p.dh || kwFirst >= p.kw * p.dw || ih0 >= h || iw0 >= w) continue;
          const int32_t first = static_cast<int32_t>(ih0 * w + iw0);
          std::copy(xi + first * c, xi + first * c + c, best);
          std::fill(at, at + c, first);
          for (int64_t kh = khFirst; kh < p.kh * p.dh; kh += p.dh) {
            const int64_t ih = h0 + kh;
            if (ih >= h) break;
            for (int64_t kw = kwFirst; kw < p.kw * p.dw; kw += p.dw) {
              const int64_t iw = w0 + kw;
              if (iw >= w) break;
              const int32_t pos = static_cast<int32_t>(ih * w + iw);
              if (pos == first) continue;
              const float* __restrict v = xi + pos * c;
              for (int64_t k = 0; k < c; k++) {
                const bool take = v[k] > best[k] || v[k] != v[k];
                best[k] = take ? v[k] : best[k];
                at[k] = take ? pos : at[k];
              }
            }
          }
          for (int64_t k = 0; k < c; k++) dxi[at[k] * c + k] += g[k];
        }
      }
    }
  }
  return nullptr;
}

napi_value PoolParamNames(napi_env env, napi_callback_info) {
  napi_value r;
  NAPI_OK(napi_create_array_with_length(env, kPoolParams, &r));
  for (int i = 0; i < kPoolParams; i++) {
    napi_value s;
    NAPI_OK(napi_create_string_utf8(env, kPoolParamNames[i], NAPI_AUTO_LENGTH, &s));
    NAPI_OK(napi_set_element(env, r, i, s));
  }
  return r;
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

napi_value ConvParamNames(napi_env env, napi_callback_info) {
  napi_value r;
  NAPI_OK(napi_create_array_with_length(env, kParams, &r));
  for (int i = 0; i < kParams; i++) {
    napi_value s;
    NAPI_OK(napi_create_string_utf8(env, kParamNames[i], NAPI_AUTO_LENGTH, &s));
    NAPI_OK(napi_set_element(env, r, i, s));
  }
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
      {"conv2d", nullptr, Conv2d, nullptr, nullptr, nullptr, napi_default_jsproperty, nullptr},
      {"bnForward", nullptr, BnForward, nullptr, nullptr, nullptr, napi_default_jsproperty, nullptr},
      {"bnBackward", nullptr, BnBackward, nullptr, nullptr, nullptr, napi_default_jsproperty, nullptr},
      {"reluGrad", nullptr, ReluGrad, nullptr, nullptr, nullptr, napi_default_jsproperty, nullptr},
      {"maxPoolGrad", nullptr, MaxPoolGrad, nullptr, nullptr, nullptr, napi_default_jsproperty, nullptr},
      {"poolParamNames", nullptr, PoolParamNames, nullptr, nullptr, nullptr, napi_default_jsproperty, nullptr},
      {"implInfo", nullptr, ImplInfo, nullptr, nullptr, nullptr, napi_default_jsproperty, nullptr},
      {"setThreads", nullptr, SetThreads, nullptr, nullptr, nullptr, napi_default_jsproperty, nullptr},
      {"getThreads", nullptr, GetThreads, nullptr, nullptr, nullptr, napi_default_jsproperty, nullptr},
      {"version", nullptr, Version, nullptr, nullptr, nullptr, napi_default_jsproperty, nullptr},
      {"convParamNames", nullptr, ConvParamNames, nullptr, nullptr, nullptr, napi_default_jsproperty, nullptr},
  };
  napi_define_properties(env, exports, sizeof(props) / sizeof(props[0]), props);
  return exports;
}

}  // namespace

NAPI_MODULE(NODE_GYP_MODULE_NAME, Init)
