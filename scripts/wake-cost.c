// What one thread waking another costs on this machine, with no Node in the way: two threads
// hand a counter back and forth through futexes (each sleeps until the other wakes it), first on
// one core, then on two. A dispatch round trip (bench/dispatch.ts) is two such wake-ups plus
// Node's own work, so when the cross-core figure is far above the same-core one (a virtual
// machine waking an idle virtual core), which core the scheduler puts a pool thread on decides
// the figure (native/README.md, "Dispatch").
//
//   cc -O2 -pthread scripts/wake-cost.c -o /tmp/wake-cost && /tmp/wake-cost
#define _GNU_SOURCE
#include <linux/futex.h>
#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

enum { kRoundTrips = 20000 };
static _Atomic uint32_t ping, pong;

static double NowUs(void) {
  struct timespec t;
  clock_gettime(CLOCK_MONOTONIC, &t);
  return t.tv_sec * 1e6 + t.tv_nsec * 1e-3;
}
// Sleeps while *word == seen; wakes one sleeper on *word.
static void Wait(_Atomic uint32_t* word, uint32_t seen) {
  syscall(SYS_futex, word, FUTEX_WAIT_PRIVATE, seen, NULL, NULL, 0);
}
static void Wake(_Atomic uint32_t* word) { syscall(SYS_futex, word, FUTEX_WAKE_PRIVATE, 1, NULL, NULL, 0); }
static void Pin(int core) {
  cpu_set_t set;
  CPU_ZERO(&set);
  CPU_SET(core, &set);
  pthread_setaffinity_np(pthread_self(), sizeof set, &set);
}

static void* Echo(void* core) {
  Pin((int)(intptr_t)core);
  for (uint32_t i = 1; i <= kRoundTrips; i++) {
    while (atomic_load(&ping) < i) Wait(&ping, i - 1);
    atomic_store(&pong, i);
    Wake(&pong);
  }
  return NULL;
}

static double RoundTripUs(int echo_core) {
  atomic_store(&ping, 0);
  atomic_store(&pong, 0);
  Pin(0);
  pthread_t echo;
  pthread_create(&echo, NULL, Echo, (void*)(intptr_t)echo_core);
  usleep(1000);
  const double start = NowUs();
  for (uint32_t i = 1; i <= kRoundTrips; i++) {
    atomic_store(&ping, i);
    Wake(&ping);
    while (atomic_load(&pong) < i) Wait(&pong, i - 1);
  }
  const double us = (NowUs() - start) / kRoundTrips;
  pthread_join(echo, NULL);
  return us;
}

int main(void) {
  printf("futex round trip, both threads on core 0: %.1f µs\n", RoundTripUs(0));
  if (sysconf(_SC_NPROCESSORS_ONLN) > 1) {
    printf("futex round trip, cores 0 and 1:         %.1f µs\n", RoundTripUs(1));
  }
  return 0;
}
