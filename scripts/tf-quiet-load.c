/*
 * netc-quiet-load.node: loads TensorFlow's library with stderr pointed at /dev/null, built by
 * scripts/setup-tfjs-node.mjs beside the library it loads.
 *
 * TensorFlow 2.21 logs "oneDNN custom operations are on ..." (and absl's "All log messages before
 * absl::InitializeLog() ..." before it) from a static initialiser, through absl logging, which
 * TF_CPP_MIN_LOG_LEVEL does not reach and no environment variable turns off except disabling oneDNN
 * (TF_ENABLE_ONEDNN_OPTS=0, which makes ResNet-20 training ~1.7x slower here). Loading the library
 * first, with fd 2 redirected, runs those initialisers in silence; tfjs-node's binding then finds
 * the library already loaded (by its soname) and loads nothing twice.
 *
 * load(path) -> null on success, else dlerror()'s message.
 */
#include <dlfcn.h>
#include <fcntl.h>
#include <node_api.h>
#include <stdio.h>
#include <unistd.h>

static napi_value load(napi_env env, napi_callback_info info) {
  size_t argc = 1;
  napi_value argv[1];
  char path[4096];
  size_t len = 0;
  napi_get_cb_info(env, info, &argc, argv, NULL, NULL);
  if (argc < 1 || napi_get_value_string_utf8(env, argv[0], path, sizeof path, &len) != napi_ok || len >= sizeof path - 1) {
    napi_throw_type_error(env, NULL, "load(path: string)");
    return NULL;
  }
  fflush(stderr);
  int saved = dup(2);
  int devnull = open("/dev/null", O_WRONLY);
  int redirected = saved >= 0 && devnull >= 0 && dup2(devnull, 2) >= 0;
  void *handle = dlopen(path, RTLD_NOW | RTLD_LOCAL);
  const char *err = handle ? NULL : dlerror();
  fflush(stderr);
  if (redirected) dup2(saved, 2);
  if (saved >= 0) close(saved);
  if (devnull >= 0) close(devnull);
  napi_value result;
  if (err) napi_create_string_utf8(env, err, NAPI_AUTO_LENGTH, &result);
  else napi_get_null(env, &result);
  return result;
}

NAPI_MODULE_INIT() {
  napi_value fn;
  napi_create_function(env, "load", NAPI_AUTO_LENGTH, load, NULL, &fn);
  napi_set_named_property(env, exports, "load", fn);
  return exports;
}
