// What a task is, and where it runs.
//
// A task is a plain struct holding validated, copied inputs and its output:
//
//   struct SomeTask {
//     static constexpr const char* kName = "offloop:some";  // async resource name
//     static constexpr const char* kWhat = "some";          // prefix of failure messages
//     static constexpr size_t kArity = N;                   // JS arguments before `token`
//     static SomeTask Parse(const Napi::CallbackInfo&);     // validate; borrow byte inputs
//     void Own(Napi::Env env);         // copy borrowed inputs to native memory (async only)
//     Status Run(CancelFlag cancel);   // any thread; no Node-API; may throw std::bad_alloc
//     Napi::Value ToJs(Napi::Env env); // JS thread, after Run returned Status::kOk
//   };
//
// Executors decide where Run happens:
//   RunNow            - on the calling JS thread (the *Sync exports);
//   QueueOnThreadpool - one napi async work item on libuv's threadpool, settling a Promise;
//   QueueOnPool       - the dedicated pool (pool.h), settling through its loop signal.
// Both asynchronous executors wrap the task in an AsyncCall (below), which owns the Promise
// and settles it the same way whoever ran it; each only adds a PendingWork implementation.
#ifndef OFFLOOP_TASK_H_
#define OFFLOOP_TASK_H_

#include <napi.h>

#include <exception>
#include <new>
#include <string>
#include <utility>

#include "cancel.h"
#include "env.h"
#include "kernels.h"

namespace offloop {
namespace binding {

constexpr const char* kAbortMessage = "The operation was aborted";

// new globalThis.DOMException('The operation was aborted', 'AbortError'), on the JS thread.
inline Napi::Value MakeAbortError(Napi::Env env) {
  try {
    Napi::Value ctor = env.Global().Get("DOMException");
    if (ctor.IsFunction()) {
      return ctor.As<Napi::Function>().New(
          {Napi::String::New(env, kAbortMessage), Napi::String::New(env, "AbortError")});
    }
  } catch (const Napi::Error&) {
    // DOMException missing or throwing: fall through to a plain Error named AbortError.
  }
  Napi::Error error = Napi::Error::New(env, kAbortMessage);
  error.Set("name", Napi::String::New(env, "AbortError"));
  error.Set("code", Napi::String::New(env, "ABORT_ERR"));
  return error.Value();
}

// A Promise already rejected with an AbortError (a call given an already-cancelled token).
inline Napi::Value RejectedWithAbort(Napi::Env env) {
  Napi::Promise::Deferred deferred = Napi::Promise::Deferred::New(env);
  deferred.Reject(MakeAbortError(env));
  return deferred.Promise();
}

// Runs a task's kernel, converting C++ exceptions into a failure message.
// Returns true when the kernel finished (ok or aborted); false with `error` set otherwise.
template <class Task>
bool RunGuarded(Task& task, CancelFlag cancel, Status* status, std::string* error) {
  try {
    *status = task.Run(cancel);
    return true;
  } catch (const std::bad_alloc&) {
    *error = std::string(Task::kWhat) + ": out of memory";
  } catch (const std::exception& e) {
    *error = std::string(Task::kWhat) + ": " + e.what();
  } catch (...) {
    *error = std::string(Task::kWhat) + ": unknown native failure";
  }
  return false;
}

// Executor 1: now, on the JS thread. Never cancelled.
template <class Task>
Napi::Value RunNow(Napi::Env env, Task& task) {
  Status status = Status::kOk;
  std::string error;
  if (!RunGuarded(task, nullptr, &status, &error)) throw Napi::Error::New(env, error);
  if (status == Status::kAborted) throw Napi::Error(env, MakeAbortError(env));
  return task.ToJs(env);
}

// How an executor finished with a call, for AsyncCall::Settle.
enum class Outcome {
  kRan,      // Execute ran (the kernel's result, abort or failure decides)
  kDropped,  // taken back before it ran, or stopped by the executor: AbortError
  kFailed,   // the executor itself failed (napi async work status other than ok/cancelled)
};

// One asynchronous call, whatever executor runs it: the task, its token, the Promise and the
// kernel's outcome. Execute runs on any thread; Settle on the JS thread, exactly once.
template <class Task>
class AsyncCall {
 public:
  AsyncCall(Napi::Promise::Deferred deferred, Task&& task, CancelHandle token)
      : deferred_(deferred), task_(std::move(task)), token_(std::move(token)) {}

  const CancelHandle& token() const { return token_; }

  // Any thread; no V8. `flag` is what the kernel polls.
  void Execute(CancelFlag flag) { finished_ = RunGuarded(task_, flag, &status_, &error_); }

  // JS thread: detaches the token and resolves or rejects the Promise. A failure to build
  // the result rejects with an Error instead; only a HandleScope that cannot open throws.
  void Settle(Napi::Env env, Outcome outcome) {
    if (token_) token_->pending = nullptr;
    Napi::HandleScope scope(env);
    try {
      SettleOrThrow(env, outcome);
    } catch (const Napi::Error& e) {
      try {
        deferred_.Reject(e.Value());
      } catch (...) {
      }
    } catch (...) {
      try {
        deferred_.Reject(
            Napi::Error::New(env, std::string(Task::kWhat) + ": failed to settle the Promise")
                .Value());
      } catch (...) {
      }
    }
  }

 private:
  void SettleOrThrow(Napi::Env env, Outcome outcome) {
    // Taken back before it ran, noticed by the kernel, or cancel() called before the Promise
    // settled: all reject with an AbortError.
    const bool aborted = outcome == Outcome::kDropped ||
                         (finished_ && status_ == Status::kAborted) ||
                         (token_ && token_->cancelled.load(std::memory_order_relaxed));
    if (aborted) {
      deferred_.Reject(MakeAbortError(env));
    } else if (outcome == Outcome::kFailed) {
      deferred_.Reject(
          Napi::Error::New(env, std::string(Task::kWhat) + ": async work failed").Value());
    } else if (!finished_) {
      deferred_.Reject(Napi::Error::New(env, error_).Value());
    } else {
      deferred_.Resolve(task_.ToJs(env));
    }
  }

  Napi::Promise::Deferred deferred_;
  Task task_;
  CancelHandle token_;
  bool finished_ = false;
  Status status_ = Status::kOk;
  std::string error_;
};

// Executor 2: one async work item on libuv's threadpool, settling a Promise.
template <class Task>
class ThreadpoolWorker final : public Napi::AsyncWorker, private PendingWork {
 public:
  static Napi::Value Queue(Napi::Env env, Task&& task, CancelHandle token) {
    Napi::Promise::Deferred deferred = Napi::Promise::Deferred::New(env);
    Napi::Promise promise = deferred.Promise();
    if (token && token->cancelled.load(std::memory_order_relaxed)) {
      deferred.Reject(MakeAbortError(env));  // already cancelled: queue nothing
      return promise;
    }
    std::shared_ptr<InFlight> in_flight = GetEnvState(env)->threadpool;
    auto* worker = new ThreadpoolWorker(env, deferred, std::move(task), token, in_flight);
    try {
      worker->AsyncWorker::Queue();
    } catch (...) {
      delete worker;
      throw;
    }
    in_flight->Add(&worker->abort_);
    if (token) token->pending = worker;
    return promise;
  }

 protected:
  // Threadpool thread: no V8 here. The kernel polls our own flag, which cancel(token) and
  // environment teardown (InFlight) both set.
  void Execute() override { call_.Execute(&abort_); }

  // Replaces node-addon-api's version, which skips OnOK/OnError on napi_cancelled and
  // would leave the Promise pending forever.
  void OnWorkComplete(Napi::Env env, napi_status status) override {
    in_flight_->Remove(&abort_);
    call_.Settle(env, status == napi_cancelled ? Outcome::kDropped
                      : status != napi_ok      ? Outcome::kFailed
                                               : Outcome::kRan);
    Destroy();
  }

 private:
  ThreadpoolWorker(Napi::Env env, Napi::Promise::Deferred deferred, Task&& task,
                   CancelHandle token, std::shared_ptr<InFlight> in_flight)
      : Napi::AsyncWorker(env, Task::kName),
        call_(deferred, std::move(task), std::move(token)),
        in_flight_(std::move(in_flight)) {}

  void OnCancel() override {
    abort_.store(true, std::memory_order_relaxed);  // a running kernel stops
    // Fails harmlessly (napi_generic_failure) once the work has started.
    napi_cancel_async_work(Env(), static_cast<napi_async_work>(*this));
  }

  AsyncCall<Task> call_;
  std::shared_ptr<InFlight> in_flight_;  // JS thread only
  std::atomic<bool> abort_{false};
};

template <class Task>
Napi::Value QueueOnThreadpool(Napi::Env env, Task&& task, CancelHandle token) {
  return ThreadpoolWorker<Task>::Queue(env, std::move(task), std::move(token));
}

}  // namespace binding
}  // namespace offloop

#endif  // OFFLOOP_TASK_H_
