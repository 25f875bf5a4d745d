// Core op families (element-wise, reductions, shape ops) are registered from their own files; this
// file only ties them together so addon.cc has a single entry point for them.
#include "context.h"
#include "op_codes.h"

namespace tt {
void RegisterElementwise(Napi::Env env, Napi::Object exports);
void RegisterReduce(Napi::Env env, Napi::Object exports);
void RegisterShape(Napi::Env env, Napi::Object exports);

namespace {
// {Name: code} for one list of op_codes.h.
#define TT_OP_ENTRY(name) table.Set(#name, Napi::Number::New(env, code++));
Napi::Object CodeTable(Napi::Env env, void (*fill)(Napi::Env, Napi::Object&)) {
  Napi::Object table = Napi::Object::New(env);
  fill(env, table);
  return table;
}
}  // namespace

void RegisterCoreOps(Napi::Env env, Napi::Object exports) {
  Napi::Object codes = Napi::Object::New(env);
  codes.Set("unary", CodeTable(env, [](Napi::Env env, Napi::Object& table) { int code = 0; TT_UNARY_OPS(TT_OP_ENTRY) }));
  codes.Set("binary", CodeTable(env, [](Napi::Env env, Napi::Object& table) { int code = 0; TT_BINARY_OPS(TT_OP_ENTRY) }));
  codes.Set("reduce", CodeTable(env, [](Napi::Env env, Napi::Object& table) { int code = 0; TT_REDUCE_OPS(TT_OP_ENTRY) }));
  codes.Set("activation", CodeTable(env, [](Napi::Env env, Napi::Object& table) { int code = 0; TT_ACTIVATIONS(TT_OP_ENTRY) }));
  exports.Set("opCodes", codes);
  RegisterElementwise(env, exports);
  RegisterReduce(env, exports);
  RegisterShape(env, exports);
}
}  // namespace tt
