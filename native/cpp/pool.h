// Executor 3: the dedicated pool (`exports.pool`, native/README.md "The dedicated pool").
//
// Per Node environment (instance data), a fixed set of native threads at a lower scheduling
// priority takes tasks from a FIFO queue (mutex + condition variable) and runs them with the
// same task types and the same AsyncCall as the libuv path. Completed calls reach the JS
// thread through one LoopSignal per started pool (loop_signal.h), sent once per batch (by the
// first job done since the last drain), whose callback settles every job done by then with
// AsyncCall::Settle, exactly as OnWorkComplete does for libuv work. The signal keeps the loop
// alive while any call is pending and not when none is, so an idle pool never keeps the
// process alive.
//
// Everything that is not a pool thread's kernel run happens on the JS thread: submission,
// cancel(token), settling, ref/unref, start/stop/stats and environment teardown.
#ifndef OFFLOOP_POOL_H_
#define OFFLOOP_POOL_H_

#include <napi.h>

#include <atomic>
#include <cstdint>
#include <memory>
#include <utility>

#include "cancel.h"
#include "task.h"

namespace offloop {
namespace binding {

class PoolCore;
class JobList;

// One call on the dedicated pool, type-erased over its task. The pool owns it from
// SubmitToPool until it has settled (or the environment is torn down).
class PoolJob : private PendingWork {
 public:
  virtual ~PoolJob() = default;

  // A pool thread: runs the kernel, which polls abort_flag().
  virtual void Execute() = 0;
  // JS thread: detaches the token and resolves or rejects the Promise. Does not free.
  virtual void Settle(Napi::Env env, Outcome outcome) = 0;
  // Environment teardown (no JS may run): detaches the token without settling.
  virtual void Detach() = 0;

  // What a token's `pending` points at while this job is pending.
  PendingWork* pending_work() { return this; }

 protected:
  CancelFlag abort_flag() const { return &abort_; }

 private:
  friend class PoolCore;
  friend class JobList;

  // cancel(token): a queued job leaves the queue and rejects now; a running one is flagged.
  void OnCancel() override;

  enum class State { kQueued, kRunning, kDone };

  PoolCore* core_ = nullptr;
  uint64_t seq_ = 0;        // submission order
  uint64_t queued_at_ = 0;  // steady-clock ns when submitted: its wait time starts here
  // The core's list this job is in (queued, running, done) and its links there; guarded by
  // the core's mutex.
  State state_ = State::kQueued;
  PoolJob* prev_ = nullptr;
  PoolJob* next_ = nullptr;
  // The flag the kernel polls: set by cancel(token) while running, and by stop/teardown.
  // The token's own flag is not used by the kernel here, so stop() leaves tokens untouched.
  std::atomic<bool> abort_{false};
};

template <class Task>
class PoolTask final : public PoolJob {
 public:
  PoolTask(Napi::Promise::Deferred deferred, Task&& task, CancelHandle token)
      : call_(deferred, std::move(task), std::move(token)) {}

  void Execute() override { call_.Execute(abort_flag()); }
  void Settle(Napi::Env env, Outcome outcome) override { call_.Settle(env, outcome); }
  void Detach() override {
    if (call_.token()) call_.token()->pending = nullptr;
  }

 private:
  AsyncCall<Task> call_;
};

// JS thread. This environment's running pool, started with the defaults (threads = CPUs,
// nice = 10) if it is not running. Throws a Napi::Error if it cannot start.
PoolCore* AcquirePool(Napi::Env env);
// JS thread. Queues `job` on `pool` (from AcquirePool, with no JS run in between).
void SubmitToPool(PoolCore* pool, std::unique_ptr<PoolJob> job);

template <class Task>
Napi::Value QueueOnPool(Napi::Env env, Task&& task, CancelHandle token) {
  if (token && token->cancelled.load(std::memory_order_relaxed)) {
    return RejectedWithAbort(env);  // already cancelled: queue nothing, start nothing
  }
  PoolCore* pool = AcquirePool(env);
  Napi::Promise::Deferred deferred = Napi::Promise::Deferred::New(env);
  Napi::Promise promise = deferred.Promise();
  auto job = std::make_unique<PoolTask<Task>>(deferred, std::move(task), token);
  PendingWork* pending = job->pending_work();
  SubmitToPool(pool, std::move(job));
  if (token) token->pending = pending;
  return promise;
}

// pool.start(threads, nice, policy?), pool.stop(), pool.stats()
Napi::Value PoolStartExport(const Napi::CallbackInfo& info);
Napi::Value PoolStopExport(const Napi::CallbackInfo& info);
Napi::Value PoolStatsExport(const Napi::CallbackInfo& info);
// setThreadPolicy(policy?, nice): the calling thread's own policy and nice, as a pool thread
// sets its own; true if the system took both.
Napi::Value SetThreadPolicyExport(const Napi::CallbackInfo& info);

}  // namespace binding
}  // namespace offloop

#endif  // OFFLOOP_POOL_H_
