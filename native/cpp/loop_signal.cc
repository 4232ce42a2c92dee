// See loop_signal.h.
#include "loop_signal.h"

namespace offloop {
namespace binding {

bool LoopSignal::Open(napi_env env, const char* name, Callback on_signal, void* owner) {
  uv_loop_t* loop = nullptr;
  if (napi_get_uv_event_loop(env, &loop) != napi_ok || loop == nullptr) return false;
  napi_value resource = nullptr;
  napi_value resource_name = nullptr;
  if (napi_create_object(env, &resource) != napi_ok ||
      napi_create_string_utf8(env, name, NAPI_AUTO_LENGTH, &resource_name) != napi_ok ||
      napi_create_reference(env, resource, 1, &resource_) != napi_ok) {
    return false;
  }
  if (napi_async_init(env, resource, resource_name, &context_) != napi_ok) {
    napi_delete_reference(env, resource_);
    return false;
  }
  if (uv_async_init(loop, &handle_, OnAsync) != 0) {
    napi_async_destroy(env, context_);
    napi_delete_reference(env, resource_);
    return false;
  }
  env_ = env;
  on_signal_ = on_signal;
  owner_ = owner;
  handle_.data = this;
  uv_unref(reinterpret_cast<uv_handle_t*>(&handle_));
  return true;
}

void LoopSignal::Ref(bool keep_alive) {
  auto* handle = reinterpret_cast<uv_handle_t*>(&handle_);
  if (keep_alive) {
    uv_ref(handle);
  } else {
    uv_unref(handle);
  }
}

void LoopSignal::Close(Callback on_closed) {
  on_closed_ = on_closed;
  napi_async_destroy(env_, context_);
  napi_delete_reference(env_, resource_);
  uv_close(reinterpret_cast<uv_handle_t*>(&handle_), OnClose);
}

void LoopSignal::OnAsync(uv_async_t* handle) {
  auto* self = static_cast<LoopSignal*>(handle->data);
  const napi_env env = self->env_;
  napi_handle_scope handles = nullptr;
  if (napi_open_handle_scope(env, &handles) != napi_ok) return;
  napi_value resource = nullptr;
  napi_callback_scope scope = nullptr;
  if (napi_get_reference_value(env, self->resource_, &resource) != napi_ok ||
      napi_open_callback_scope(env, resource, self->context_, &scope) != napi_ok) {
    scope = nullptr;  // still drain: a batch left undrained would never be signalled again
    // (without a handle scope, above, nothing can be settled at all: Node is past running JS)
  }
  self->on_signal_(self->owner_);
  // As for a threadsafe function's callback: what it threw is an uncaught exception.
  bool thrown = false;
  napi_value error = nullptr;
  if (napi_is_exception_pending(env, &thrown) == napi_ok && thrown &&
      napi_get_and_clear_last_exception(env, &error) == napi_ok) {
    napi_fatal_exception(env, error);
  }
  if (scope != nullptr) napi_close_callback_scope(env, scope);  // runs the queued microtasks
  napi_close_handle_scope(env, handles);
}

void LoopSignal::OnClose(uv_handle_t* handle) {
  auto* self = static_cast<LoopSignal*>(handle->data);
  self->on_closed_(self->owner_);  // may free *self
}

}  // namespace binding
}  // namespace offloop
