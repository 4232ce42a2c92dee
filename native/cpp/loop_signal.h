// A wake-up of the JS thread that any thread may send: the dedicated pool's way back (pool.cc).
//
// It does what a napi_threadsafe_function did for the pool: a callback on the JS thread, inside
// a callback scope (so the promises it settles run their continuations before the loop goes on),
// the loop kept alive only while asked. It is a libuv async handle of our own because Node's
// napi_call_threadsafe_function signals the loop while holding the function's mutex, which the
// woken JS thread takes first thing: a JS thread woken onto the same core preempts the pool
// thread inside that lock and blocks on it, four context switches per call instead of two
// (native/README.md, "Dispatch"). The pool sends after releasing its own lock.
#ifndef OFFLOOP_LOOP_SIGNAL_H_
#define OFFLOOP_LOOP_SIGNAL_H_

#include <node_api.h>
#include <uv.h>

namespace offloop {
namespace binding {

class LoopSignal {
 public:
  using Callback = void (*)(void* owner);

  LoopSignal() = default;
  LoopSignal(const LoopSignal&) = delete;
  LoopSignal& operator=(const LoopSignal&) = delete;

  // JS thread. `on_signal(owner)` runs on the JS thread after one or more Send()s (they
  // coalesce). Starts unreferenced. False if it could not be opened (then it needs no Close()).
  bool Open(napi_env env, const char* name, Callback on_signal, void* owner);
  // Any thread, between Open() and Close().
  void Send() { uv_async_send(&handle_); }
  // JS thread: whether the handle keeps the event loop alive.
  void Ref(bool keep_alive);
  // JS thread, once: no callback runs after this. `on_closed(owner)` runs when libuv has let go
  // of the handle, on a later turn of the loop; it may free the memory this object lives in.
  void Close(Callback on_closed);

 private:
  static void OnAsync(uv_async_t* handle);
  static void OnClose(uv_handle_t* handle);

  uv_async_t handle_{};
  napi_env env_ = nullptr;
  napi_async_context context_ = nullptr;  // the async_hooks resource the callbacks run in
  napi_ref resource_ = nullptr;
  Callback on_signal_ = nullptr;
  Callback on_closed_ = nullptr;
  void* owner_ = nullptr;
};

}  // namespace binding
}  // namespace offloop

#endif  // OFFLOOP_LOOP_SIGNAL_H_
