// Per-environment state (napi instance data): the main thread and each worker thread that loads
// the addon get their own.
#ifndef OFFLOOP_ENV_H_
#define OFFLOOP_ENV_H_

#include <napi.h>
#include <uv.h>

#include <atomic>
#include <memory>
#include <unordered_set>

namespace offloop {
namespace binding {

class PoolCore;

// The abort flags of this environment's calls on libuv's threadpool, so that an ending
// environment stops their kernels instead of waiting for them: Node waits for running
// threadpool work before a worker thread ends (and process.exit() joins libuv's threads), and
// it does so *before* it runs environment cleanup hooks, so a hook would come too late. Two
// triggers instead, both on the JS thread:
//   - process.exit() (main thread or worker): a process 'exit' listener added at module init;
//   - worker.terminate(): a libuv prepare handle, active only while calls are in flight, that
//     runs before each poll of the loop and notices once Node no longer lets JS run (the loop
//     Node spins while it waits for the work).
// JS thread only. Shared (shared_ptr) with each call, which may complete after the
// environment's state is gone.
class InFlight {
 public:
  explicit InFlight(napi_env env) : env_(env) {}
  InFlight(const InFlight&) = delete;
  InFlight& operator=(const InFlight&) = delete;

  void Add(std::atomic<bool>* flag);
  void Remove(std::atomic<bool>* flag);
  // Sets every flag: the running kernels stop within about a millisecond.
  void AbortAll();
  // Environment teardown (an async cleanup hook, so that Node runs the loop until the handle
  // has closed, while this code is still loaded): closes the prepare handle, then `done`.
  void Close(napi_async_cleanup_hook_handle done);

 private:
  static void OnPrepare(uv_prepare_t* handle);
  void Watch(bool on);

  const napi_env env_;
  std::unordered_set<std::atomic<bool>*> flags_;
  uv_prepare_t* watch_ = nullptr;  // created on first use
  bool watching_ = false;
  bool closed_ = false;
};

struct EnvState {
  explicit EnvState(napi_env env) : threadpool(std::make_shared<InFlight>(env)) {}
  PoolCore* pool = nullptr;  // the running dedicated pool, if any (pool.cc)
  bool pool_closed = false;  // the pool's teardown ran: start no other
  std::shared_ptr<InFlight> threadpool;
  // %TypedArray%.prototype.at, captured when the addon loads (see GetBytes in args.h).
  Napi::FunctionReference typed_array_at;
};

// Module init, once per environment: the state, its cleanup hook and the 'exit' listener.
// Throws a Napi::Error on failure.
void InitEnv(Napi::Env env);
// This environment's state. Throws a Napi::Error if the addon was not initialised here.
EnvState* GetEnvState(Napi::Env env);

}  // namespace binding
}  // namespace offloop

#endif  // OFFLOOP_ENV_H_
