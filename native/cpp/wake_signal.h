// A condition variable for the dedicated pool's lock that costs one futex wake per
// notify and nothing more (native/README.md, "Dispatch").
//
// Why not std::condition_variable: glibc's pthread_cond_wait takes the mutex back marked
// contended, so the woken thread's next unlock makes a futex wake syscall that nobody needs:
// 3.1 futex calls per job against the Rust pool's 2.0, whose std Condvar is the design below. On
// Linux this is a sequence counter waited on with FUTEX_WAIT_PRIVATE (as Rust's std and the
// kernel's futex(2) page describe); a notify with no parked thread makes no syscall at all.
// Elsewhere it is std::condition_variable_any (the pool's lock is not a std::mutex).
//
// Same contract as std::condition_variable: Wait() is called with the lock held and returns
// with it held and the predicate true; the state the predicate reads changes under the lock.
#ifndef OFFLOOP_WAKE_SIGNAL_H_
#define OFFLOOP_WAKE_SIGNAL_H_

#include <atomic>
#include <climits>
#include <condition_variable>
#include <cstdint>
#include <mutex>

#if defined(__linux__)
#include <linux/futex.h>
#include <sys/syscall.h>
#include <unistd.h>
#endif

namespace offloop {
namespace binding {

#if defined(__linux__) && defined(SYS_futex)

static_assert(sizeof(std::atomic<uint32_t>) == sizeof(uint32_t) &&
                  std::atomic<uint32_t>::is_always_lock_free,
              "the futex word must be a plain, lock-free 32-bit integer");

class WakeSignal {
 public:
  template <class Lock, class Predicate>
  void Wait(Lock& lock, Predicate ready) {
    while (!ready()) {
      // Read under the lock: a notify for a change made after this read (under the lock, so
      // after we release it) bumps the counter, and the futex then does not sleep.
      const uint32_t seen = sequence_.load(std::memory_order_relaxed);
      parked_.fetch_add(1, std::memory_order_relaxed);
      lock.unlock();
      syscall(SYS_futex, &sequence_, FUTEX_WAIT_PRIVATE, seen, nullptr, nullptr, 0);
      lock.lock();
      parked_.fetch_sub(1, std::memory_order_relaxed);
    }
  }

  // Called after the state changed under the lock, with or without the lock still held.
  void NotifyOne() { Notify(1); }
  void NotifyAll() { Notify(INT_MAX); }

 private:
  void Notify(int count) {
    // seq_cst on both: a waiter that counted itself in parked_ before this load is woken; one
    // that did not yet read the counter under the lock after our change and does not sleep.
    sequence_.fetch_add(1, std::memory_order_seq_cst);
    if (parked_.load(std::memory_order_seq_cst) == 0) return;
    syscall(SYS_futex, &sequence_, FUTEX_WAKE_PRIVATE, count, nullptr, nullptr, 0);
  }

  std::atomic<uint32_t> sequence_{0};
  std::atomic<uint32_t> parked_{0};
};

#else

class WakeSignal {
 public:
  template <class Lock, class Predicate>
  void Wait(Lock& lock, Predicate ready) {
    condition_.wait(lock, ready);
  }
  void NotifyOne() { condition_.notify_one(); }
  void NotifyAll() { condition_.notify_all(); }

 private:
  std::condition_variable_any condition_;  // any lock: the pool's is not a std::mutex
};

#endif

}  // namespace binding
}  // namespace offloop

#endif  // OFFLOOP_WAKE_SIGNAL_H_
