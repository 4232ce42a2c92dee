// How long a woken thread waits for a core that CPU-bound threads hold, with no Node in the way:
// the shape of the bench's loaded ping. A "loop" thread sleeps on a futex; a "probe" thread
// wakes it every 2 ms and the loop records how late it ran. Beside them run N spinners
// (CPU-bound, free to move), under SCHED_IDLE (the dedicated pools, worker threads) or at the
// loop's own priority (libuv's threadpool). With spinners at the loop's priority and more of
// them than cores, the woken loop now and then waits for the scheduler's tick (4 ms at
// HZ=250); under SCHED_IDLE it preempts them, but for a few waits of a millisecond or two
// (README.md, "How far to trust the pools' and the worker threads' figures").
//
//   cc -O2 -pthread scripts/wake-preempt.c -o /tmp/wake-preempt && /tmp/wake-preempt
#define _GNU_SOURCE
#include <linux/futex.h>
#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

enum { kWakeUps = 5000 };
static _Atomic uint32_t pending;
static _Atomic int64_t sent_ns;
static atomic_bool stop;
static int64_t late_ns[kWakeUps];

static int64_t NowNs(void) {
  struct timespec t;
  clock_gettime(CLOCK_MONOTONIC, &t);
  return t.tv_sec * 1000000000LL + t.tv_nsec;
}
static atomic_int refused;  // spinners that could not take SCHED_IDLE

static void* Spin(void* idle) {
  const struct sched_param param = {0};
  if (idle && sched_setscheduler(0, SCHED_IDLE, &param) != 0) atomic_fetch_add(&refused, 1);
  volatile uint64_t x = 0;
  while (!atomic_load_explicit(&stop, memory_order_relaxed)) x++;
  return NULL;
}
static void* Loop(void* unused) {
  (void)unused;
  for (int n = 0; n < kWakeUps;) {
    if (atomic_load(&pending) == 0) {
      syscall(SYS_futex, &pending, FUTEX_WAIT_PRIVATE, 0, NULL, NULL, 0);
      continue;
    }
    late_ns[n++] = NowNs() - atomic_load(&sent_ns);
    atomic_store(&pending, 0);
  }
  return NULL;
}
static int Compare(const void* a, const void* b) {
  const int64_t x = *(const int64_t*)a, y = *(const int64_t*)b;
  return (x > y) - (x < y);
}

static void Run(int spinners, int idle) {
  pthread_t* spin = calloc(spinners > 0 ? spinners : 1, sizeof *spin);
  pthread_t loop;
  atomic_store(&stop, 0);
  atomic_store(&refused, 0);
  for (int i = 0; i < spinners; i++)
    pthread_create(&spin[i], NULL, Spin, idle ? &spin[i] : NULL);
  pthread_create(&loop, NULL, Loop, NULL);
  usleep(100000);
  for (int n = 0; n < kWakeUps; n++) {
    usleep(2000);
    atomic_store(&sent_ns, NowNs());
    atomic_store(&pending, 1);
    syscall(SYS_futex, &pending, FUTEX_WAKE_PRIVATE, 1, NULL, NULL, 0);
    while (atomic_load(&pending) == 1) usleep(20);
  }
  pthread_join(loop, NULL);
  atomic_store(&stop, 1);
  for (int i = 0; i < spinners; i++) pthread_join(spin[i], NULL);
  free(spin);
  if (atomic_load(&refused) > 0)
    printf("(%d spinners could not take SCHED_IDLE)\n", atomic_load(&refused));
  qsort(late_ns, kWakeUps, sizeof late_ns[0], Compare);
  int over = 0;
  for (int i = 0; i < kWakeUps; i++) over += late_ns[i] > 500000;
  printf(
      "%d spinners%-16s p50 %6.1f µs  p99 %7.1f  p99.9 %7.1f  max %7.1f  over 0.5 ms: %d of "
      "%d\n",
      spinners,
      spinners == 0 ? ":"
      : idle        ? " (SCHED_IDLE):"
                    : " (loop's own):",
      late_ns[kWakeUps / 2] / 1e3, late_ns[kWakeUps * 99 / 100] / 1e3,
      late_ns[kWakeUps * 999 / 1000] / 1e3, late_ns[kWakeUps - 1] / 1e3, over, kWakeUps);
}

int main(void) {
  const int cores = (int)sysconf(_SC_NPROCESSORS_ONLN);
  const int more = cores * 2;
  Run(0, 0);
  Run(cores, 1);
  Run(more, 1);
  Run(cores, 0);
  Run(more, 0);
  return 0;
}
