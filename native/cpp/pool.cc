// The dedicated pool: threads, FIFO queue, completion through a loop signal, start/stop/stats
// and environment teardown. See pool.h.
//
// Lifetimes. A PoolCore is one started pool (start .. stop). It is freed once its loop signal
// has closed, a turn of the loop after stop() or the environment's teardown closed it, so no
// signal callback ever sees a freed core; the threads, the only senders, are joined before
// that. Teardown is an async cleanup hook, so Node runs the loop until the signal has closed.
#include "pool.h"

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <exception>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "args.h"
#include "durations.h"
#include "env.h"
#include "loop_signal.h"
#include "wake_signal.h"

#if defined(__linux__)
#include <pthread.h>
#include <sched.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <unistd.h>
#elif defined(_WIN32)
#ifndef WIN32_LEAN_AND_MEAN
#define WIN32_LEAN_AND_MEAN
#endif
#include <windows.h>
#elif defined(__unix__) || defined(__APPLE__)
#include <pthread.h>
#include <sched.h>
#endif
#if defined(__x86_64__) || defined(_M_X64) || defined(__i386__)
#include <immintrin.h>
#endif

namespace offloop {
namespace binding {

namespace {

constexpr uint64_t kMinThreads = 1;
constexpr uint64_t kMaxThreads = 256;
constexpr uint64_t kMinNice = 0;
constexpr uint64_t kMaxNice = 19;
constexpr unsigned kDefaultNice = 10;
// How long a thread that finds the queue empty watches it before parking (one thread at a time),
// in µs: the environment variable OFFLOOP_POOL_SPIN_US, read when the addon loads, 0 (no spin)
// by default. A caller awaiting one task after another submits the next a few microseconds after
// the last settles; a thread still awake takes it without a futex wake on the JS thread and a
// sleep and wake-up on its own, but an idle pool then burns up to this much of one core per task
// (native/README.md, "Dispatch", has the measurements).
constexpr uint64_t kMaxSpinUs = 1000;

unsigned DefaultThreads() {
  const unsigned n = std::thread::hardware_concurrency();
  if (n < kMinThreads) return static_cast<unsigned>(kMinThreads);
  if (n > kMaxThreads) return static_cast<unsigned>(kMaxThreads);
  return n;
}

// How the pool's threads are scheduled, lowest first.
enum class Policy { kIdle, kBatch, kNormal };

// The policies by name, as pool.start() takes them and stats() reports them.
struct PolicyName {
  Policy policy;
  const char* name;
};
constexpr PolicyName kPolicies[] = {
    {Policy::kIdle, "idle"}, {Policy::kBatch, "batch"}, {Policy::kNormal, "normal"}};
constexpr Policy kDefaultPolicy = Policy::kIdle;

const char* PolicyToString(Policy policy) {
  for (const PolicyName& p : kPolicies) {
    if (p.policy == policy) return p.name;
  }
  return "normal";
}

// The optional `policy` argument: undefined is the default; else one of kPolicies' names.
Policy GetPolicy(const Napi::CallbackInfo& info, size_t index) {
  Napi::Value value = info[index];
  if (value.IsUndefined()) return kDefaultPolicy;
  if (!value.IsString()) ThrowInvalidType(value, "policy", "of type string");
  const std::string name = value.As<Napi::String>().Utf8Value();
  for (const PolicyName& p : kPolicies) {
    if (name == p.name) return p.policy;
  }
  ThrowOutOfRange(value, "policy", "one of \"idle\", \"batch\", \"normal\"");
}

// Sets the calling thread's scheduling policy and lowers its priority: true if the system took
// both. Pool threads call it for themselves, and setThreadPolicy() for its caller.
bool ApplyThreadPolicy(unsigned nice, Policy policy) {
#if defined(__linux__)
  // On Linux a nice value belongs to a thread (a kernel task), addressed by its tid. It is set
  // under every policy (SCHED_IDLE ignores it, but it is kept and reported).
  const bool reniced = setpriority(PRIO_PROCESS, static_cast<id_t>(syscall(SYS_gettid)),
                                   static_cast<int>(nice)) == 0;
  // Lowering one's own policy needs no privilege (raising it back may: RLIMIT_NICE decides);
  // pid 0 is the calling thread.
  const int linux_policy = policy == Policy::kIdle    ? SCHED_IDLE
                           : policy == Policy::kBatch ? SCHED_BATCH
                                                      : SCHED_OTHER;
  sched_param param{};
  param.sched_priority = 0;
  return sched_setscheduler(0, linux_policy, &param) == 0 && reniced;
#elif defined(_WIN32)
  const int priority = policy == Policy::kIdle ? THREAD_PRIORITY_IDLE
                       : nice == 0             ? THREAD_PRIORITY_NORMAL
                       : nice < 10             ? THREAD_PRIORITY_BELOW_NORMAL
                                               : THREAD_PRIORITY_LOWEST;
  return SetThreadPriority(GetCurrentThread(), priority) != 0;
#elif defined(__unix__) || defined(__APPLE__)
  // setpriority() would renice the whole process here; lower this thread within its policy
  // (idle: as far as it goes; batch and normal differ only on Linux).
  const unsigned lower = policy == Policy::kIdle ? static_cast<unsigned>(kMaxNice) : nice;
  int current = 0;
  sched_param param{};
  if (lower > 0 && pthread_getschedparam(pthread_self(), &current, &param) == 0) {
    const int lowest = sched_get_priority_min(current);
    const int span = param.sched_priority - lowest;
    if (span > 0) {
      param.sched_priority -= (span * static_cast<int>(lower) + 18) / 19;
      return pthread_setschedparam(pthread_self(), current, &param) == 0;
    }
  }
  return true;
#else
  (void)nice;
  (void)policy;
  return false;
#endif
}

// A pool thread's start: its settings, then its name (shows in /proc, top -H, debuggers). Best
// effort: failures are ignored.
void PreparePoolThread(unsigned index, unsigned nice, Policy policy) {
  (void)ApplyThreadPolicy(nice, policy);
#if defined(__linux__)
  // Named last: a thread that shows its name in /proc runs at its settings already.
  char name[16];  // at most 15 characters and the NUL: "offloop-cpp-255"
  std::snprintf(name, sizeof(name), "offloop-cpp-%u", index);
  (void)pthread_setname_np(pthread_self(), name);
#else
  (void)index;
#endif
}

uint64_t ReadSpinNs() {
  const char* text = std::getenv("OFFLOOP_POOL_SPIN_US");
  if (text == nullptr) return 0;
  char* end = nullptr;
  const unsigned long long us = std::strtoull(text, &end, 10);
  if (end == text || *end != '\0' || us > kMaxSpinUs) return 0;  // unreadable: no spin
  return static_cast<uint64_t>(us) * 1000;
}
const uint64_t kSpinNs = ReadSpinNs();

// One step of a spin-wait: tells the CPU (and a sibling hyperthread) that we are only waiting.
inline void CpuRelax() {
#if defined(__x86_64__) || defined(_M_X64) || defined(__i386__)
  _mm_pause();
#elif defined(__aarch64__)
  __asm__ __volatile__("yield");
#endif
}

// The pool's lock: a std::mutex that tries a hundred times, pausing, before it sleeps, as Rust's
// std Mutex does. It is held for well under a microsecond at a time, and a thread that sleeps on
// it pays a wake-up, which across cores costs tens of µs on a virtual machine (native/README.md,
// "Dispatch").
class PoolMutex {
 public:
  void lock() {
    for (int i = 0; i < 100; ++i) {
      if (mutex_.try_lock()) return;
      CpuRelax();
    }
    mutex_.lock();
  }
  bool try_lock() { return mutex_.try_lock(); }
  void unlock() { mutex_.unlock(); }

 private:
  std::mutex mutex_;
};

// A monotonic clock in nanoseconds, for the pool's figures.
uint64_t NowNs() {
  return static_cast<uint64_t>(std::chrono::duration_cast<std::chrono::nanoseconds>(
                                   std::chrono::steady_clock::now().time_since_epoch())
                                   .count());
}

}  // namespace

// What stats() reports: the load now and what the pool has done since it started.
struct PoolFigures {
  size_t queued = 0;
  size_t running = 0;
  uint64_t completed = 0;
  double utilization = 0;
};

// An intrusive doubly linked list of jobs (no allocation, O(1) removal on cancel).
class JobList {
 public:
  bool empty() const { return head_ == nullptr; }
  size_t size() const { return size_; }
  PoolJob* front() const { return head_; }

  void PushBack(PoolJob* job) {
    job->prev_ = tail_;
    job->next_ = nullptr;
    if (tail_ != nullptr) {
      tail_->next_ = job;
    } else {
      head_ = job;
    }
    tail_ = job;
    ++size_;
  }

  void Remove(PoolJob* job) {
    if (job->prev_ != nullptr) {
      job->prev_->next_ = job->next_;
    } else {
      head_ = job->next_;
    }
    if (job->next_ != nullptr) {
      job->next_->prev_ = job->prev_;
    } else {
      tail_ = job->prev_;
    }
    job->prev_ = job->next_ = nullptr;
    --size_;
  }

  PoolJob* PopFront() {
    PoolJob* job = head_;
    if (job != nullptr) Remove(job);
    return job;
  }

  static PoolJob* Next(const PoolJob* job) { return job->next_; }

 private:
  PoolJob* head_ = nullptr;
  PoolJob* tail_ = nullptr;
  size_t size_ = 0;
};

class PoolCore {
 public:
  // JS thread. Throws a Napi::Error if the pool cannot start.
  static PoolCore* Start(napi_env env, EnvState* owner, unsigned threads, unsigned nice,
                         Policy policy);

  unsigned threads() const { return threads_; }
  unsigned nice() const { return nice_; }
  Policy policy() const { return policy_; }

  void Submit(std::unique_ptr<PoolJob> job);  // JS thread
  void Cancel(PoolJob* job);                  // JS thread
  // JS thread: rejects every pending call with an AbortError, joins the threads and closes the
  // signal. The core is freed on a later turn of the loop, once the signal has closed: do not
  // use it after.
  void Stop();
  // Copies the figures under the lock into `run` and `wait` and fills `out`.
  void Figures(PoolFigures* out, DurationLog* run, DurationLog* wait);

 private:
  PoolCore(napi_env env, EnvState* owner, unsigned threads, unsigned nice, Policy policy)
      : env_(env),
        owner_(owner),
        threads_(threads),
        nice_(nice),
        policy_(policy),
        started_ns_(NowNs()) {}

  static void OnSignal(void* core);
  static void OnSignalClosed(void* core);
  static void TeardownHook(napi_async_cleanup_hook_handle hook, void* arg);

  void WorkerMain(unsigned index);
  bool SpinForWork();
  void SettleDone();
  void SettleAndFree(PoolJob* job, Outcome outcome);
  void JoinThreads();
  std::vector<PoolJob*> TakeUnsettled();
  void DropUnsettled();
  void CloseSignal();

  const napi_env env_;
  EnvState* const owner_;
  const unsigned threads_;
  const unsigned nice_;
  const Policy policy_;
  const uint64_t started_ns_;
  LoopSignal signal_;  // the pool threads' way back to the JS thread

  // Shared with the pool threads.
  PoolMutex mutex_;
  WakeSignal wake_;
  JobList queued_;
  JobList running_;
  JobList done_;                  // ran; a signal is on its way for them
  bool drain_signalled_ = false;  // that signal was sent and has not yet drained done_
  bool stopping_ = false;
  // queued_.size(), also readable without the lock (by the spinning thread); written under it.
  std::atomic<size_t> queued_count_{0};
  // A thread is spinning (SpinForWork): set by it, cleared by it under the lock.
  std::atomic<bool> spinning_{false};
  // What the threads have done: tasks run, their run and wait times, and the sum of run times.
  DurationLog run_log_;
  DurationLog wait_log_;
  uint64_t busy_ns_ = 0;

  // JS thread only.
  std::vector<std::thread> workers_;
  uint64_t next_seq_ = 0;
  size_t pending_ = 0;  // submitted and not yet settled
  bool referenced_ = false;
  bool closed_ = false;  // the signal is closed: nothing more arrives, and the core goes soon
  // Our teardown hook, until stop() removes it or it runs; once it has run, its handle, which
  // says it is done when the signal has closed.
  napi_async_cleanup_hook_handle hook_ = nullptr;
  napi_async_cleanup_hook_handle closing_hook_ = nullptr;
  bool joined_ = false;
};

void PoolJob::OnCancel() { core_->Cancel(this); }

PoolCore* PoolCore::Start(napi_env env, EnvState* owner, unsigned threads, unsigned nice,
                          Policy policy) {
  std::unique_ptr<PoolCore> owned(new PoolCore(env, owner, threads, nice, policy));
  if (!owned->signal_.Open(env, "offloop:pool", OnSignal, owned.get())) {
    throw Napi::Error::New(env, "pool: failed to open its loop signal");
  }
  PoolCore* core = owned.release();  // from here on, freed once its signal has closed
  try {
    core->workers_.reserve(threads);
    for (unsigned i = 0; i < threads; ++i) {
      core->workers_.emplace_back([core, i] { core->WorkerMain(i); });
    }
  } catch (const std::exception& e) {
    core->JoinThreads();
    core->CloseSignal();
    throw Napi::Error::New(
        env, "pool: failed to start " + std::to_string(threads) + " threads: " + e.what());
  }
  if (napi_add_async_cleanup_hook(env, TeardownHook, core, &core->hook_) != napi_ok) {
    // Without it nothing would join the threads or close the signal when the environment ends.
    core->hook_ = nullptr;
    core->JoinThreads();
    core->CloseSignal();
    throw Napi::Error::New(env, "pool: failed to add its environment cleanup hook");
  }
  return core;
}

void PoolCore::WorkerMain(unsigned index) {
  PreparePoolThread(index, nice_, policy_);
  std::unique_lock<PoolMutex> lock(mutex_);
  for (;;) {
    if (kSpinNs != 0 && queued_.empty() && !stopping_) {  // no spin, no need to let go here
      lock.unlock();
      const bool spun = SpinForWork();
      lock.lock();
      if (spun) spinning_.store(false, std::memory_order_relaxed);
    }
    wake_.Wait(lock, [this] { return stopping_ || !queued_.empty(); });
    if (stopping_) return;  // what is still queued is settled by the JS thread
    PoolJob* job = queued_.PopFront();
    queued_count_.store(queued_.size(), std::memory_order_relaxed);
    job->state_ = PoolJob::State::kRunning;
    running_.PushBack(job);
    const uint64_t started = NowNs();
    wait_log_.Record(started > job->queued_at_ ? started - job->queued_at_ : 0);
    lock.unlock();

    job->Execute();  // catches everything (RunGuarded)
    const uint64_t ran = NowNs() - started;

    lock.lock();
    run_log_.Record(ran);
    busy_ns_ += ran;
    running_.Remove(job);
    job->state_ = PoolJob::State::kDone;
    done_.PushBack(job);
    // One signal per batch: the first job done since the JS thread last drained done_ sends it,
    // and its callback settles every job done by then (as libuv drains its completed work in
    // one callback). Sent after unlocking, so the JS thread it wakes finds the lock free. Never
    // waits for the JS thread; the signal stays open until this thread has been joined.
    const bool signal = !drain_signalled_;
    drain_signalled_ = true;
    lock.unlock();
    if (signal) signal_.Send();
    lock.lock();
  }
}

// Without the lock. Watches the queue for up to kSpinNs unless another thread already does; true
// if this thread spun (it then clears spinning_ under the lock, and parks if it saw nothing).
bool PoolCore::SpinForWork() {
  if (kSpinNs == 0) return false;
  bool idle = false;
  if (!spinning_.compare_exchange_strong(idle, true, std::memory_order_relaxed)) return false;
  const uint64_t deadline = NowNs() + kSpinNs;
  for (unsigned i = 1; queued_count_.load(std::memory_order_relaxed) == 0; ++i) {
    CpuRelax();
    if (i % 64 == 0 && NowNs() >= deadline) break;
  }
  return true;
}

void PoolCore::Submit(std::unique_ptr<PoolJob> owned) {
  PoolJob* job = owned.release();
  job->core_ = this;
  job->seq_ = next_seq_++;
  job->queued_at_ = NowNs();
  if (pending_++ == 0 && !referenced_) {
    signal_.Ref(true);
    referenced_ = true;
  }
  bool wake = true;
  {
    std::lock_guard<PoolMutex> lock(mutex_);
    job->state_ = PoolJob::State::kQueued;
    queued_.PushBack(job);
    queued_count_.store(queued_.size(), std::memory_order_relaxed);
    // A spinning thread takes the only queued job (it clears spinning_ under this lock before it
    // parks, and then finds the job); wake a parked one for any more.
    wake = !(spinning_.load(std::memory_order_relaxed) && queued_.size() == 1);
  }
  if (wake) wake_.NotifyOne();
}

void PoolCore::Cancel(PoolJob* job) {
  bool dequeued = false;
  {
    std::lock_guard<PoolMutex> lock(mutex_);
    if (job->state_ == PoolJob::State::kQueued) {
      queued_.Remove(job);
      queued_count_.store(queued_.size(), std::memory_order_relaxed);
      job->state_ = PoolJob::State::kDone;  // in no list: settled right below
      dequeued = true;
    } else if (job->state_ == PoolJob::State::kRunning) {
      job->abort_.store(true, std::memory_order_relaxed);
    }
    // kDone: it ran; settling sees the token's flag and rejects with an AbortError.
  }
  if (dequeued) SettleAndFree(job, Outcome::kDropped);
}

void PoolCore::OnSignal(void* core) { static_cast<PoolCore*>(core)->SettleDone(); }

// One signal per batch: settles every job done so far, oldest first; jobs done meanwhile send
// another.
void PoolCore::SettleDone() {
  if (closed_) return;
  JobList batch;
  {
    std::lock_guard<PoolMutex> lock(mutex_);
    while (PoolJob* job = done_.PopFront()) batch.PushBack(job);
    drain_signalled_ = false;
  }
  // Settling may run JS (a replaced DOMException), which may stop the pool: what is left of
  // the batch then settles as stop() settles what it finds.
  while (PoolJob* job = batch.PopFront()) {
    SettleAndFree(job, closed_ ? Outcome::kDropped : Outcome::kRan);
  }
}

void PoolCore::SettleAndFree(PoolJob* job, Outcome outcome) {
  std::unique_ptr<PoolJob> owned(job);
  try {
    job->Settle(Napi::Env(env_), outcome);
  } catch (...) {
    // A HandleScope that could not open: the Promise stays pending; nothing else to do.
  }
  owned.reset();
  if (pending_ > 0 && --pending_ == 0 && referenced_ && !closed_) {
    signal_.Ref(false);
    referenced_ = false;
  }
}

void PoolCore::JoinThreads() {
  if (joined_) return;
  joined_ = true;
  {
    std::lock_guard<PoolMutex> lock(mutex_);
    stopping_ = true;
    for (PoolJob* job = running_.front(); job != nullptr; job = JobList::Next(job)) {
      job->abort_.store(true, std::memory_order_relaxed);
    }
  }
  wake_.NotifyAll();
  for (std::thread& t : workers_) {
    if (t.joinable()) t.join();
  }
  workers_.clear();
}

// After JoinThreads: every job not yet settled is queued or done. Returns them in
// submission order and empties the lists.
std::vector<PoolJob*> PoolCore::TakeUnsettled() {
  std::vector<PoolJob*> jobs;
  std::lock_guard<PoolMutex> lock(mutex_);
  jobs.reserve(queued_.size() + done_.size() + running_.size());
  for (JobList* list : {&done_, &running_, &queued_}) {
    while (PoolJob* job = list->PopFront()) jobs.push_back(job);
  }
  queued_count_.store(0, std::memory_order_relaxed);
  std::sort(jobs.begin(), jobs.end(),
            [](const PoolJob* a, const PoolJob* b) { return a->seq_ < b->seq_; });
  return jobs;
}

// Teardown: frees every unsettled job without settling (no JS can run now).
void PoolCore::DropUnsettled() {
  for (PoolJob* job : TakeUnsettled()) {
    job->Detach();
    delete job;
  }
  pending_ = 0;
}

void PoolCore::Stop() {
  JoinThreads();
  std::vector<PoolJob*> jobs = TakeUnsettled();
  for (PoolJob* job : jobs) job->Detach();  // cancel(token) from here on finds nothing
  if (hook_ != nullptr) {
    napi_remove_async_cleanup_hook(hook_);
    hook_ = nullptr;
  }
  CloseSignal();  // the core goes on a later turn of the loop, not while settling below
  for (PoolJob* job : jobs) SettleAndFree(job, Outcome::kDropped);
}

void PoolCore::CloseSignal() {
  if (closed_) return;
  closed_ = true;
  signal_.Close(OnSignalClosed);
}

void PoolCore::OnSignalClosed(void* arg) {
  auto* core = static_cast<PoolCore*>(arg);
  napi_async_cleanup_hook_handle done = core->closing_hook_;
  delete core;
  if (done != nullptr) napi_remove_async_cleanup_hook(done);  // teardown finished
}

void PoolCore::Figures(PoolFigures* out, DurationLog* run, DurationLog* wait) {
  uint64_t busy = 0;
  {
    std::lock_guard<PoolMutex> lock(mutex_);
    out->queued = queued_.size();
    out->running = running_.size();
    *run = run_log_;
    *wait = wait_log_;
    busy = busy_ns_;
  }
  out->completed = run->count();
  // Of the threads' time since the start, the share spent in tasks that have finished.
  const double capacity = static_cast<double>(NowNs() - started_ns_) * threads_;
  out->utilization = capacity > 0 ? std::min(1.0, static_cast<double>(busy) / capacity) : 0;
}

// Environment teardown (process exit, worker termination): join, free what is pending (its
// Promises can no longer be settled), close the signal; Node runs the loop until it has closed.
void PoolCore::TeardownHook(napi_async_cleanup_hook_handle hook, void* arg) {
  auto* core = static_cast<PoolCore*>(arg);
  core->hook_ = nullptr;
  if (core->owner_->pool == core) core->owner_->pool = nullptr;
  core->owner_->pool_closed = true;
  core->JoinThreads();
  core->DropUnsettled();
  core->closing_hook_ = hook;
  core->CloseSignal();
}

// ---- per-environment slot and exports ------------------------------------------------------

namespace {

EnvState* GetOpenEnvState(Napi::Env env) {
  EnvState* slot = GetEnvState(env);
  if (slot->pool_closed) throw Napi::Error::New(env, "pool: the environment is shutting down");
  return slot;
}

}  // namespace

PoolCore* AcquirePool(Napi::Env env) {
  EnvState* slot = GetOpenEnvState(env);
  if (slot->pool == nullptr) {
    slot->pool = PoolCore::Start(env, slot, DefaultThreads(), kDefaultNice, kDefaultPolicy);
  }
  return slot->pool;
}

void SubmitToPool(PoolCore* pool, std::unique_ptr<PoolJob> job) { pool->Submit(std::move(job)); }

Napi::Value PoolStartExport(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  const auto threads =
      static_cast<unsigned>(GetInteger(info, 0, "threads", kMinThreads, kMaxThreads));
  const auto nice = static_cast<unsigned>(GetInteger(info, 1, "nice", kMinNice, kMaxNice));
  const Policy policy = GetPolicy(info, 2);
  EnvState* slot = GetOpenEnvState(env);
  if (PoolCore* core = slot->pool) {
    if (core->threads() == threads && core->nice() == nice && core->policy() == policy) {
      return env.Undefined();
    }
    const auto describe = [](unsigned t, unsigned n, Policy p) {
      return std::to_string(t) + " threads at nice " + std::to_string(n) + " (policy " +
             PolicyToString(p) + ")";
    };
    throw Napi::Error::New(env, "offloop_cpp: the pool is already running with " +
                                    describe(core->threads(), core->nice(), core->policy()) +
                                    "; stop() it before starting it with " +
                                    describe(threads, nice, policy));
  }
  slot->pool = PoolCore::Start(env, slot, threads, nice, policy);
  return env.Undefined();
}

Napi::Value PoolStopExport(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  EnvState* slot = GetEnvState(env);
  if (PoolCore* core = slot->pool) {
    slot->pool = nullptr;  // a call made while stopping starts a fresh pool
    core->Stop();
  }
  return env.Undefined();
}

Napi::Value SetThreadPolicyExport(const Napi::CallbackInfo& info) {
  const Policy policy = GetPolicy(info, 0);
  const auto nice = static_cast<unsigned>(GetInteger(info, 1, "nice", kMinNice, kMaxNice));
  return Napi::Boolean::New(info.Env(), ApplyThreadPolicy(nice, policy));
}

Napi::Value PoolStatsExport(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  EnvState* slot = GetEnvState(env);
  unsigned threads = 0, nice = 0;
  Napi::Value policy = env.Null();  // no pool running
  PoolFigures figures;
  DurationLog run, wait;  // copies taken under the lock; empty unless a pool runs
  if (PoolCore* core = slot->pool) {
    threads = core->threads();
    nice = core->nice();
    policy = Napi::String::New(env, PolicyToString(core->policy()));
    core->Figures(&figures, &run, &wait);
  }
  const auto number = [&env](double x) { return Napi::Number::New(env, x); };
  const auto summary = [&env, &number](const DurationLog& log) {
    constexpr double kNsPerMs = 1e6;
    Napi::Object times = Napi::Object::New(env);
    times.Set("p50", number(static_cast<double>(log.Quantile(0.5)) / kNsPerMs));
    times.Set("p99", number(static_cast<double>(log.Quantile(0.99)) / kNsPerMs));
    times.Set("max", number(static_cast<double>(log.max()) / kNsPerMs));
    return times;
  };
  Napi::Object stats = Napi::Object::New(env);
  stats.Set("threads", number(threads));
  stats.Set("nice", number(nice));
  stats.Set("policy", policy);
  stats.Set("queued", number(static_cast<double>(figures.queued)));
  stats.Set("running", number(static_cast<double>(figures.running)));
  stats.Set("completed", number(static_cast<double>(figures.completed)));
  stats.Set("utilization", number(figures.utilization));
  stats.Set("runTime", summary(run));
  stats.Set("waitTime", summary(wait));
  return stats;
}

}  // namespace binding
}  // namespace offloop
