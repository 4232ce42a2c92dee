// Per-environment state, and stopping in-flight threadpool work when an environment ends.
// See env.h.
#include "env.h"

namespace offloop {
namespace binding {

namespace {

// False once Node has stopped letting this environment run JS (it is being torn down). Node-API
// calls that could run JS fail then; comparing `undefined` with itself is one that runs none.
bool CanRunJs(napi_env env) {
  napi_handle_scope scope;
  if (napi_open_handle_scope(env, &scope) != napi_ok) return false;
  napi_value undefined;
  bool same = false;
  const bool ok = napi_get_undefined(env, &undefined) == napi_ok &&
                  napi_strict_equals(env, undefined, undefined, &same) == napi_ok;
  napi_close_handle_scope(env, scope);
  return ok;
}

void CloseHook(napi_async_cleanup_hook_handle done, void* arg) {
  static_cast<EnvState*>(arg)->threadpool->Close(done);
}

// process.on('exit', ...): process.exit() runs no cleanup hook on the main thread.
Napi::Value OnProcessExit(const Napi::CallbackInfo& info) {
  GetEnvState(info.Env())->threadpool->AbortAll();
  return info.Env().Undefined();
}

void ListenForExit(Napi::Env env) {
  Napi::Value process = env.Global().Get("process");
  if (!process.IsObject()) return;  // an embedder without `process`: hooks only
  Napi::Value on = process.As<Napi::Object>().Get("on");
  if (!on.IsFunction()) return;
  on.As<Napi::Function>().Call(
      process, {Napi::String::New(env, "exit"),
                Napi::Function::New(env, OnProcessExit, "offloopAbortThreadpoolWork")});
}

}  // namespace

void InFlight::Add(std::atomic<bool>* flag) {
  flags_.insert(flag);
  if (flags_.size() == 1) Watch(true);
}

void InFlight::Remove(std::atomic<bool>* flag) {
  flags_.erase(flag);
  if (flags_.empty()) Watch(false);
}

void InFlight::AbortAll() {
  for (std::atomic<bool>* flag : flags_) flag->store(true, std::memory_order_relaxed);
}

// Best effort: without a loop or a handle, only process.exit() is covered.
void InFlight::Watch(bool on) {
  if (closed_ || on == watching_) return;
  if (watch_ == nullptr) {
    if (!on) return;
    uv_loop_t* loop = nullptr;
    if (napi_get_uv_event_loop(env_, &loop) != napi_ok || loop == nullptr) return;
    auto* handle = new uv_prepare_t();
    if (uv_prepare_init(loop, handle) != 0) {
      delete handle;
      return;
    }
    uv_handle_set_data(reinterpret_cast<uv_handle_t*>(handle), this);
    uv_unref(reinterpret_cast<uv_handle_t*>(handle));  // never keeps the loop alive
    watch_ = handle;
  }
  if (on) {
    watching_ = uv_prepare_start(watch_, OnPrepare) == 0;
  } else {
    uv_prepare_stop(watch_);
    watching_ = false;
  }
}

void InFlight::OnPrepare(uv_prepare_t* handle) {
  auto* self =
      static_cast<InFlight*>(uv_handle_get_data(reinterpret_cast<uv_handle_t*>(handle)));
  if (!CanRunJs(self->env_)) self->AbortAll();
}

void InFlight::Close(napi_async_cleanup_hook_handle done) {
  AbortAll();
  closed_ = true;
  watching_ = false;
  if (watch_ == nullptr) {
    napi_remove_async_cleanup_hook(done);
    return;
  }
  uv_handle_set_data(reinterpret_cast<uv_handle_t*>(watch_), done);
  uv_close(reinterpret_cast<uv_handle_t*>(watch_), [](uv_handle_t* handle) {
    auto done = static_cast<napi_async_cleanup_hook_handle>(uv_handle_get_data(handle));
    delete reinterpret_cast<uv_prepare_t*>(handle);
    napi_remove_async_cleanup_hook(done);
  });
  watch_ = nullptr;
}

void InitEnv(Napi::Env env) {
  auto* state = new EnvState(env);
  napi_status status = napi_set_instance_data(
      env, state, [](napi_env, void* data, void*) { delete static_cast<EnvState*>(data); },
      nullptr);
  if (status != napi_ok) {
    delete state;
    throw Napi::Error::New(env, "offloop_cpp: failed to set up per-environment state");
  }
  state->typed_array_at = Napi::Persistent(env.Global()
                                               .Get("Uint8Array")
                                               .As<Napi::Object>()
                                               .Get("prototype")
                                               .As<Napi::Object>()
                                               .Get("__proto__")
                                               .As<Napi::Object>()
                                               .Get("at")
                                               .As<Napi::Function>());
  // Node frees the instance data after the cleanup hooks have run: `state` outlives this one.
  if (napi_add_async_cleanup_hook(env, CloseHook, state, nullptr) != napi_ok) {
    throw Napi::Error::New(env, "offloop_cpp: failed to add an environment cleanup hook");
  }
  ListenForExit(env);
}

EnvState* GetEnvState(Napi::Env env) {
  void* data = nullptr;
  if (napi_get_instance_data(env, &data) != napi_ok || data == nullptr) {
    throw Napi::Error::New(env, "offloop_cpp: the addon is not initialised in this environment");
  }
  return static_cast<EnvState*>(data);
}

}  // namespace binding
}  // namespace offloop
