/* A Node-API addon: answer() returns 42 and the machine it was compiled for. */
#include <node_api.h>

#if defined(__x86_64__)
#define MACHINE "x86_64"
#elif defined(__aarch64__)
#define MACHINE "aarch64"
#else
#define MACHINE "other"
#endif

static napi_value answer(napi_env env, napi_callback_info info) {
  napi_value result, number, machine;
  napi_create_object(env, &result);
  napi_create_int32(env, 42, &number);
  napi_create_string_utf8(env, MACHINE, NAPI_AUTO_LENGTH, &machine);
  napi_set_named_property(env, result, "answer", number);
  napi_set_named_property(env, result, "machine", machine);
  return result;
}

static napi_value init(napi_env env, napi_value exports) {
  napi_value fn;
  napi_create_function(env, "answer", NAPI_AUTO_LENGTH, answer, NULL, &fn);
  napi_set_named_property(env, exports, "answer", fn);
  return exports;
}

NAPI_MODULE(NODE_GYP_MODULE_NAME, init)
