// A blocking sleep (the stand-in for blocking I/O) that wakes at least every millisecond to
// check the cancel flag.
#include <chrono>
#include <thread>

#include "kernels.h"

namespace offloop {

Status SleepMs(uint32_t ms, CancelFlag cancel) {
  using Clock = std::chrono::steady_clock;
  const Clock::time_point deadline = Clock::now() + std::chrono::milliseconds(ms);
  constexpr auto kSlice = std::chrono::milliseconds(1);
  for (;;) {
    if (IsCancelled(cancel)) return Status::kAborted;
    const Clock::time_point now = Clock::now();
    if (now >= deadline) return Status::kOk;
    const auto left = deadline - now;
    std::this_thread::sleep_for(left < kSlice ? left : Clock::duration(kSlice));
  }
}

}  // namespace offloop
