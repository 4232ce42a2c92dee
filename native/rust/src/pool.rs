//! The dedicated pool (`exports.pool`): the second asynchronous executor.
//!
//! Each environment that loads the addon (the main thread, each worker thread) gets its own
//! pool, kept in the addon's instance data ([`crate::env`]). A pool is:
//!
//! * `threads` plain `std::thread`s that lower their own priority (`nice`) when they start and
//!   then take [`Job`]s from a FIFO queue (mutex + condition variable);
//! * one [`LoopSignal`] through which finished jobs travel back to the JS thread, one signal per
//!   batch (the first job done since the last drain sends it, after releasing the queue's lock),
//!   where [`on_signal`] settles each Promise exactly as the libuv path does ([`task::settle`]);
//! * [`Books`]: the JS-thread side of that signal — how many jobs are pending (the signal keeps
//!   the event loop alive while there are any, so an idle pool never does but a pending Promise
//!   does) and whether the pool has been stopped. It owns the signal and is freed once the signal
//!   has closed.
//!
//! The jobs are the same [`Task`]s the libuv path runs; only where `run` happens and how the
//! result comes back differ.
//!
//! Life cycle and teardown (all on the JS thread):
//!
//! * start: open the signal, spawn the threads, then register an async env cleanup hook (so at
//!   teardown Node runs the loop until the signal has closed).
//! * stop / teardown: take the pool out of the instance data, mark the queue stopping, take the
//!   queued jobs, set the abort flag of the running ones, wake and join every thread, take the
//!   done jobs, then close the signal (nothing sends it afterwards). `stop()` rejects the queued
//!   and done jobs with an `AbortError`; teardown cannot run JS and drops them unsettled.

use crate::cancel::{PendingWork, Token};
use crate::durations::DurationLog;
use crate::env::{self, EnvState, PoolSlot};
use crate::js::{self, Env, ErrorKind, JsResult, napi};
use crate::loop_signal::{LoopSignal, Sender};
use crate::napi::*;
use crate::task::{self, Outcome, Settlement, Task};
use std::any::Any;
use std::cell::{Cell, RefCell};
use std::collections::BTreeMap;
use std::ffi::c_void;
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::ptr;
use std::rc::Rc;
use std::sync::LazyLock;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Condvar, Mutex, MutexGuard, PoisonError};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

/// `pool.start(threads, nice, policy)` bounds.
pub const THREADS_MIN: u64 = 1;
pub const THREADS_MAX: u64 = 256;
pub const NICE_MIN: u64 = 0;
pub const NICE_MAX: u64 = 19;
/// How the pool's threads are scheduled, lowest first.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum Policy {
    /// Linux `SCHED_IDLE`: runs only when nothing else wants the CPU.
    Idle,
    /// Linux `SCHED_BATCH`: CPU-bound, at the nice value.
    Batch,
    /// `SCHED_OTHER`, at the nice value.
    Normal,
}

impl Policy {
    /// The policies by name, as `pool.start()` takes them and `stats()` reports them.
    pub const ALL: [(Policy, &'static str); 3] = [
        (Policy::Idle, "idle"),
        (Policy::Batch, "batch"),
        (Policy::Normal, "normal"),
    ];
    /// The policy of a pool started by its first task.
    pub const DEFAULT: Policy = Policy::Idle;

    pub fn name(self) -> &'static str {
        Self::ALL
            .iter()
            .find(|(p, _)| *p == self)
            .map_or("normal", |(_, n)| n)
    }

    pub fn from_name(name: &str) -> Option<Policy> {
        Self::ALL.iter().find(|(_, n)| *n == name).map(|(p, _)| *p)
    }
}

/// The nice value of a pool started by its first task.
pub const DEFAULT_NICE: i32 = 10;

/// The threads of a pool started by its first task: the CPUs this process may use.
fn default_threads() -> usize {
    std::thread::available_parallelism()
        .map_or(1, |n| n.get())
        .clamp(THREADS_MIN as usize, THREADS_MAX as usize)
}

/// How long a thread that finds the queue empty watches it before parking (one thread at a time):
/// the environment variable `OFFLOOP_POOL_SPIN_US` (µs, at most 1000), read when the addon loads;
/// no spin by default. A caller awaiting one task after another submits the next a few
/// microseconds after the last settles; a thread still awake takes it without a futex wake on the
/// JS thread and a sleep and wake-up on its own, but an idle pool then burns up to this much of
/// one core per task (native/README.md, "Dispatch", has the measurements).
static SPIN: LazyLock<Duration> = LazyLock::new(|| {
    const MAX_SPIN_US: u64 = 1000;
    let us = std::env::var("OFFLOOP_POOL_SPIN_US")
        .ok()
        .and_then(|text| text.parse::<u64>().ok());
    // Unreadable or too long: no spin.
    Duration::from_micros(us.filter(|us| *us <= MAX_SPIN_US).unwrap_or(0))
});

/// Reads [`SPIN`] now (module init), as the C++ addon does when it loads.
pub fn read_spin() {
    LazyLock::force(&SPIN);
}

/// Job ids: unique in the process (never reused across pools or environments, never 0), and
/// increasing, so the queue, ordered by id, is FIFO.
static NEXT_ID: AtomicU64 = AtomicU64::new(1);

// ---- per-environment slot ---------------------------------------------------------------------

/// What this module keeps in the environment's state: the running pool.
struct Running(Rc<Pool>);

impl PoolSlot for Running {
    fn teardown(&self, _env: napi_env, _state: *mut c_void) {
        // Not expected: our cleanup hook, which Node runs first, takes the pool out (and a pool
        // whose hook could not be added does not start). Stop its threads all the same.
        drop(shutdown(&self.0));
    }
    fn as_any(&self) -> &dyn Any {
        self
    }
}

/// The pool running in `state`, if any.
fn current(state: &EnvState) -> Option<Rc<Pool>> {
    let slot = state.pool.try_borrow().ok()?;
    slot.as_ref()?
        .as_any()
        .downcast_ref::<Running>()
        .map(|r| r.0.clone())
}

/// Takes the pool out of `state`, if one runs.
fn take(state: &EnvState) -> Option<Rc<Pool>> {
    let slot = state.pool.try_borrow_mut().ok()?.take()?;
    slot.as_any().downcast_ref::<Running>().map(|r| r.0.clone())
}

/// Async env cleanup hook (process exit, worker termination): stop the pool without running JS;
/// done once its signal has closed ([`on_closed`]).
unsafe extern "C" fn teardown_hook(hook: napi_async_cleanup_hook_handle, arg: *mut c_void) {
    let _ = catch_unwind(AssertUnwindSafe(|| {
        // SAFETY: the pool's `Books`, freed only once its signal has closed, which has not
        // happened: closing it removes this hook first (`stop`) or happens below.
        let books = unsafe { &*(arg as *const Books) };
        books.hook.set(ptr::null_mut());
        books.closing_hook.set(hook);
        // SAFETY: `state` outlives the hooks (the instance data is freed after them).
        let state = unsafe { &*books.state };
        match take(state) {
            // The queued jobs are dropped unsettled: their environment is going away.
            Some(pool) => drop(shutdown(&pool)),
            // SAFETY: this hook's handle; nothing left to close.
            None => unsafe {
                napi_remove_async_cleanup_hook(hook);
            },
        }
    }));
}

// ---- the pool --------------------------------------------------------------------------------

/// One running pool (JS-thread handle).
struct Pool {
    threads: usize,
    nice: i32,
    policy: Policy,
    /// When it started: `utilization` is a share of the threads' time since then.
    started: Instant,
    shared: Arc<Shared>,
    handles: RefCell<Vec<JoinHandle<()>>>,
    /// Freed once its signal has closed, a turn of the loop after `shutdown` closed it.
    books: *const Books,
    /// Cleared by `shutdown`.
    live: Cell<bool>,
}

impl Pool {
    fn books(&self) -> &Books {
        assert!(self.live.get(), "offloop_rust: pool used after shutdown");
        // SAFETY: the signal whose closing frees `books` is closed only in `shutdown`.
        unsafe { &*self.books }
    }
}

/// What the pool threads share.
struct Shared {
    queue: Mutex<Queue>,
    ready: Condvar,
    /// Wakes the JS thread to drain `done`.
    wake: Sender,
    /// `queue.waiting.len()`, also readable without the lock (by the spinning thread); written
    /// under it.
    queued: AtomicUsize,
    /// A thread is spinning ([`spin_for_work`]): set by it, cleared by it under the lock.
    spinning: AtomicBool,
}

impl Shared {
    /// Under the lock, after every change to `queue.waiting`.
    fn count_queued(&self, queue: &Queue) {
        self.queued.store(queue.waiting.len(), Ordering::Relaxed);
    }
}

/// Without the lock. Watches the queue for up to [`SPIN`] unless another thread already does; true
/// if this thread spun (it then clears `spinning` under the lock, and parks if it saw nothing).
fn spin_for_work(shared: &Shared) -> bool {
    let spin = *SPIN;
    if spin.is_zero()
        || shared
            .spinning
            .compare_exchange(false, true, Ordering::Relaxed, Ordering::Relaxed)
            .is_err()
    {
        return false;
    }
    let deadline = Instant::now() + spin;
    let mut i = 0u32;
    while shared.queued.load(Ordering::Relaxed) == 0 {
        std::hint::spin_loop();
        i = i.wrapping_add(1);
        if i % 64 == 0 && Instant::now() >= deadline {
            break;
        }
    }
    true
}

#[derive(Default)]
struct Queue {
    /// Waiting jobs by id: FIFO (ids increase), and O(log n) removal by `cancel(token)`.
    waiting: BTreeMap<u64, Job>,
    /// The jobs being run: their ids and abort flags (for `cancel` and `stop`).
    running: Vec<(u64, Arc<AtomicBool>)>,
    /// The jobs that ran, waiting for the JS thread: one signal ([`on_signal`]) settles them all.
    done: Vec<Job>,
    /// That signal was sent and has not yet drained `done`.
    signalled: bool,
    stopping: bool,
    /// What the threads have done: tasks run, their run and wait times, the sum of run times.
    run_log: DurationLog,
    wait_log: DurationLog,
    busy: Duration,
}

fn lock(shared: &Shared) -> MutexGuard<'_, Queue> {
    // Nothing panics while holding the lock; should it, the queue is still consistent.
    shared.queue.lock().unwrap_or_else(PoisonError::into_inner)
}

/// The JS-thread side of one pool's signal: freed once the signal has closed ([`on_closed`]).
struct Books {
    signal: LoopSignal,
    shared: Arc<Shared>,
    /// This environment's state: the teardown hook takes the pool out of it.
    state: *const EnvState,
    /// Jobs submitted and not yet settled.
    pending: Cell<usize>,
    /// The signal is closed: do not touch it any more.
    closed: Cell<bool>,
    /// The pool was stopped: whatever is still settled is settled as aborted.
    stopped: Cell<bool>,
    /// Our async cleanup hook, until `stop()` removes it or it runs.
    hook: Cell<napi_async_cleanup_hook_handle>,
    /// Set when that hook runs: it is done once the signal has closed.
    closing_hook: Cell<napi_async_cleanup_hook_handle>,
}

impl Books {
    /// JS thread: one more pending job; the first one keeps the loop alive.
    fn add_pending(&self) {
        let n = self.pending.get() + 1;
        self.pending.set(n);
        if n == 1 && !self.closed.get() {
            self.signal.keep_alive(true);
        }
    }

    /// JS thread: one job fewer; the last one lets the loop go.
    fn sub_pending(&self) {
        let n = self.pending.get().saturating_sub(1);
        self.pending.set(n);
        if n == 0 && !self.closed.get() {
            self.signal.keep_alive(false);
        }
    }
}

/// The signal has closed: free the `Books` (and with it the signal), and finish a teardown.
unsafe fn on_closed(_env: napi_env, owner: *mut c_void) {
    // SAFETY: the box leaked in `start_pool`, freed once, here; nothing reads it afterwards.
    let books = unsafe { Box::from_raw(owner as *mut Books) };
    let hook = books.closing_hook.get();
    drop(books);
    if !hook.is_null() {
        // SAFETY: the teardown hook's handle, removed once.
        unsafe { napi_remove_async_cleanup_hook(hook) };
    }
}

// ---- jobs ------------------------------------------------------------------------------------

/// One call waiting for, running on, or coming back from a pool thread.
struct Job {
    id: u64,
    /// When it was submitted: its wait time starts here.
    queued_at: Instant,
    /// What the kernel polls: set by `cancel(token)` (through the token) or by `stop()`. The
    /// user's token is not the kernel's flag, so `stop()` aborts calls without cancelling
    /// their tokens.
    abort: Arc<AtomicBool>,
    token: Option<Token>,
    deferred: Deferred,
    stage: Stage,
}

/// Where a job is: its task before running, its outcome after. (Two boxes rather than one
/// struct holding `Option<Outcome>`: every byte a drop may look at is then initialised, which
/// keeps memcheck quiet about LLVM testing an unset payload before the variant.)
enum Stage {
    Queued(Box<dyn Work>),
    Ran(Box<dyn Finished>),
}

struct Deferred(napi_deferred);
// SAFETY: the deferred is only used (settled) on the JS thread; pool threads just carry it.
unsafe impl Send for Deferred {}

/// A task to run, type-erased.
trait Work: Send {
    /// Pool thread: run the task; its inputs are freed here, on the pool thread.
    fn run(self: Box<Self>, cancel: &AtomicBool) -> Box<dyn Finished>;
}

/// How a task's run ended, type-erased.
trait Finished: Send {
    /// JS thread: what the call settles to.
    fn settlement(self: Box<Self>, env: Env, cancelled: bool) -> Settlement;
}

struct Runs<T>(T);

struct Ran<T: Task>(Outcome<T::Output>);

impl<T> Work for Runs<T>
where
    T: Task + Send + 'static,
    T::Output: Send,
{
    fn run(self: Box<Self>, cancel: &AtomicBool) -> Box<dyn Finished> {
        // `run_caught` inside: a panicking task is an outcome, not a dead thread.
        let outcome = task::run_caught(&self.0, cancel);
        drop(self);
        Box::new(Ran::<T>(outcome))
    }
}

impl<T> Finished for Ran<T>
where
    T: Task + Send,
    T::Output: Send,
{
    fn settlement(self: Box<Self>, env: Env, cancelled: bool) -> Settlement {
        task::outcome_settlement::<T>(env, self.0, cancelled)
    }
}

impl Job {
    /// JS thread: settle the call's Promise and free the job. `stopped`: its pool was stopped.
    fn settle(self, env: Env, stopped: bool) {
        let Job {
            abort,
            token,
            deferred,
            stage,
            ..
        } = self;
        let mut cancelled = stopped || abort.load(Ordering::Relaxed);
        if let Some(token) = &token {
            // Before settling (which may run JS), so the token can be reused from there.
            token.detach();
            cancelled |= token.is_cancelled();
        }
        let settlement = match stage {
            Stage::Ran(finished) => finished.settlement(env, cancelled),
            // Taken off the queue (cancel, stop): it never ran.
            Stage::Queued(_) => Err(js::abort_error(env)),
        };
        task::settle(env, deferred.0, settlement);
    }
}

/// A pool thread.
fn worker(shared: Arc<Shared>, index: usize, nice: i32, policy: Policy) {
    sys::prepare(index, nice, policy);
    loop {
        let (mut job, started) = {
            let mut queue = lock(&shared);
            // Without a spin there is no need to let go of the lock here.
            if !SPIN.is_zero() && queue.waiting.is_empty() && !queue.stopping {
                drop(queue);
                let spun = spin_for_work(&shared);
                queue = lock(&shared);
                if spun {
                    shared.spinning.store(false, Ordering::Relaxed);
                }
            }
            loop {
                if queue.stopping {
                    return;
                }
                if let Some((_, job)) = queue.waiting.pop_first() {
                    shared.count_queued(&queue);
                    queue.running.push((job.id, job.abort.clone()));
                    let started = Instant::now();
                    queue
                        .wait_log
                        .record(nanos(started.saturating_duration_since(job.queued_at)));
                    break (job, started);
                }
                queue = shared.ready.wait(queue).unwrap_or_else(PoisonError::into_inner);
            }
        };
        if let Stage::Queued(work) = job.stage {
            job.stage = Stage::Ran(work.run(&job.abort));
        }
        let ran = started.elapsed();
        let signal = {
            let mut queue = lock(&shared);
            queue.run_log.record(nanos(ran));
            queue.busy += ran;
            if let Some(i) = queue.running.iter().position(|(id, _)| *id == job.id) {
                queue.running.swap_remove(i);
            }
            queue.done.push(job);
            // One signal per batch: the first job done since the JS thread last drained `done`
            // sends it, and its callback settles every job done by then (as libuv drains its
            // completed work in one callback).
            !std::mem::replace(&mut queue.signalled, true)
        };
        if signal {
            // After unlocking, so the JS thread it wakes finds the lock free. Never waits for the
            // JS thread; the signal is closed only after this thread has been joined.
            shared.wake.send();
        }
    }
}

fn nanos(d: Duration) -> u64 {
    u64::try_from(d.as_nanos()).unwrap_or(u64::MAX)
}

/// The signal's callback (JS thread): settle every job done so far, oldest first.
unsafe fn on_signal(env: napi_env, owner: *mut c_void) {
    // SAFETY: the `Books` that owns the signal, alive while it is open.
    let books = unsafe { &*(owner as *const Books) };
    if books.closed.get() {
        return;
    }
    // SAFETY: libuv calls us on the JS thread with its env.
    let env = unsafe { Env::new(env) };
    let batch = {
        let mut queue = lock(&books.shared);
        queue.signalled = false;
        std::mem::take(&mut queue.done)
    };
    // Settling may run JS (a replaced DOMException), which may stop the pool: what is left of the
    // batch then settles as aborted, as `stop()` settles what it finds. `books` stays valid: its
    // signal closes on a later turn of the loop.
    for job in batch {
        job.settle(env, books.stopped.get());
        books.sub_pending();
    }
}

// ---- start / stop ----------------------------------------------------------------------------

/// Start a pool for this environment and record it in `state`.
fn start_pool(env: Env, state: &EnvState, threads: usize, nice: i32, policy: Policy) -> JsResult<Rc<Pool>> {
    let signal = LoopSignal::open(env, "offloop_rust.pool", on_signal)?;
    let shared = Arc::new(Shared {
        queue: Mutex::new(Queue::default()),
        ready: Condvar::new(),
        wake: signal.sender(),
        queued: AtomicUsize::new(0),
        spinning: AtomicBool::new(false),
    });
    let books = Box::into_raw(Box::new(Books {
        signal,
        shared: shared.clone(),
        state,
        pending: Cell::new(0),
        closed: Cell::new(false),
        stopped: Cell::new(false),
        hook: Cell::new(ptr::null_mut()),
        closing_hook: Cell::new(ptr::null_mut()),
    }));
    // SAFETY: just leaked; freed by `on_closed`, once its signal has closed.
    unsafe { (*books).signal.bind(books.cast()) };
    let pool = Rc::new(Pool {
        threads,
        nice,
        policy,
        started: Instant::now(),
        shared,
        handles: RefCell::new(Vec::with_capacity(threads)),
        books,
        live: Cell::new(true),
    });
    for i in 0..threads {
        let shared = pool.shared.clone();
        // On Linux the thread names itself once it runs at its settings (`sys::prepare`).
        let builder = std::thread::Builder::new();
        #[cfg(not(target_os = "linux"))]
        let builder = builder.name(format!("offloop-rs-{i}"));
        let spawned = builder.spawn(move || worker(shared, i, nice, policy));
        match spawned {
            Ok(handle) => pool.handles.borrow_mut().push(handle),
            Err(err) => {
                drop(shutdown(&pool));
                return js::throw(
                    env,
                    ErrorKind::Error,
                    None,
                    &format!(
                        "offloop_rust: pool: could not start thread {} of {threads}: {err}",
                        i + 1
                    ),
                );
            }
        }
    }
    let mut hook = ptr::null_mut();
    // SAFETY: removed in `stop`, or by itself once the signal has closed; `books` outlives it.
    let status =
        unsafe { napi_add_async_cleanup_hook(env.raw(), Some(teardown_hook), books.cast(), &mut hook) };
    if status != napi_ok {
        drop(shutdown(&pool));
        js::check(env, status, "napi_add_async_cleanup_hook")?;
    }
    pool.books().hook.set(hook);
    *state.pool.borrow_mut() = Some(Box::new(Running(pool.clone())));
    Ok(pool)
}

/// Stop `pool` (already taken out of the instance data): cancel the running jobs, join the
/// threads, close the signal. Returns the jobs not yet settled (queued, or done and not yet
/// drained), oldest first: `stop()` rejects them with an `AbortError`, teardown (no JS) drops
/// them unsettled.
fn shutdown(pool: &Pool) -> Vec<Job> {
    if !pool.live.get() {
        return Vec::new();
    }
    let waiting = {
        let mut queue = lock(&pool.shared);
        queue.stopping = true;
        for (_, abort) in &queue.running {
            abort.store(true, Ordering::Relaxed);
        }
        let waiting = std::mem::take(&mut queue.waiting);
        pool.shared.count_queued(&queue);
        waiting
    };
    pool.shared.ready.notify_all();
    let handles = std::mem::take(&mut *pool.handles.borrow_mut());
    for handle in handles {
        // Kernels poll their abort flag at least every ~millisecond, so this is quick.
        let _ = handle.join();
    }
    let books = pool.books();
    books.stopped.set(true);
    pool.live.set(false);
    let done = std::mem::take(&mut lock(&pool.shared).done);
    // Every thread that sent the signal has been joined. `books` (and the signal) go on a later
    // turn of the loop: the caller may still settle the jobs.
    books.closed.set(true);
    books.signal.close(on_closed);
    let mut jobs: Vec<Job> = waiting.into_values().chain(done).collect();
    jobs.sort_by_key(|job| job.id);
    jobs
}

/// The running pool, started (with the defaults) if there is none.
fn running_pool(env: Env) -> JsResult<Rc<Pool>> {
    let state = env::state(env)?;
    match current(state) {
        Some(pool) => Ok(pool),
        None => start_pool(env, state, default_threads(), DEFAULT_NICE, Policy::DEFAULT),
    }
}

/// `pool.start(threads, nice, policy)`, arguments already validated.
pub fn start(env: Env, threads: usize, nice: i32, policy: Policy) -> JsResult<()> {
    let state = env::state(env)?;
    let describe = |t: usize, n: i32, p: Policy| format!("{t} threads at nice {n} (policy {})", p.name());
    match current(state) {
        Some(pool) if pool.threads == threads && pool.nice == nice && pool.policy == policy => Ok(()),
        Some(pool) => js::throw(
            env,
            ErrorKind::Error,
            None,
            &format!(
                "offloop_rust: the pool is already running with {}; stop() it before starting it with {}",
                describe(pool.threads, pool.nice, pool.policy),
                describe(threads, nice, policy)
            ),
        ),
        None => start_pool(env, state, threads, nice, policy).map(drop),
    }
}

/// `pool.stop()`: reject the queued calls with an `AbortError`, abort the running ones, join
/// the threads. Harmless when no pool runs.
pub fn stop(env: Env) -> JsResult<()> {
    let state = env::state(env)?;
    let Some(pool) = take(state) else {
        return Ok(());
    };
    let hook = pool.books().hook.replace(ptr::null_mut());
    if !hook.is_null() {
        // SAFETY: our hook's handle, registered in `start_pool` and not yet run.
        unsafe { napi_remove_async_cleanup_hook(hook) };
    }
    let waiting = shutdown(&pool);
    drop(pool);
    // Last, as settling may run JS (a user's DOMException), which may even start a new pool.
    for job in waiting {
        job.settle(env, true);
    }
    Ok(())
}

/// `setThreadPolicy(policy, nice)`: the calling thread's own settings, as a pool thread sets its
/// own; true if the system took both.
pub fn set_thread_policy(nice: i32, policy: Policy) -> bool {
    sys::apply(nice, policy)
}

/// `pool.stats()`: `{ threads, nice, policy, queued, running, completed, utilization, runTime,
/// waitTime }`; zeros (and a null policy) when no pool runs.
pub fn stats(env: Env) -> JsResult<napi_value> {
    let state = env::state(env)?;
    let mut figures = Figures::default();
    if let Some(pool) = &current(state) {
        let (busy, run, wait) = {
            let queue = lock(&pool.shared);
            figures.queued = queue.waiting.len();
            figures.running = queue.running.len();
            (queue.busy, queue.run_log.clone(), queue.wait_log.clone())
        };
        figures.settings = Some((pool.threads, pool.nice, pool.policy));
        // Of the threads' time since the start, the share spent in tasks that have finished.
        let capacity = pool.started.elapsed().as_secs_f64() * pool.threads as f64;
        if capacity > 0.0 {
            figures.utilization = (busy.as_secs_f64() / capacity).min(1.0);
        }
        figures.run = run;
        figures.wait = wait;
    }
    figures.to_js(env)
}

/// What `stats()` reports: the settings, the load now, what the pool has done since it started.
#[derive(Default)]
struct Figures {
    settings: Option<(usize, i32, Policy)>,
    queued: usize,
    running: usize,
    utilization: f64,
    run: DurationLog,
    wait: DurationLog,
}

impl Figures {
    fn to_js(&self, env: Env) -> JsResult<napi_value> {
        let (threads, nice, policy) = match self.settings {
            Some((threads, nice, policy)) => (threads, nice, js::string(env, policy.name())?),
            None => {
                let mut null = ptr::null_mut();
                napi!(env, napi_get_null(&mut null))?;
                (0, 0, null)
            }
        };
        let fields = [
            (c"threads", js::number(env, threads as f64)?),
            (c"nice", js::number(env, f64::from(nice))?),
            (c"policy", policy),
            (c"queued", js::number(env, self.queued as f64)?),
            (c"running", js::number(env, self.running as f64)?),
            (c"completed", js::number(env, self.run.count() as f64)?),
            (c"utilization", js::number(env, self.utilization)?),
            (c"runTime", summary(env, &self.run)?),
            (c"waitTime", summary(env, &self.wait)?),
        ];
        object(env, &fields)
    }
}

/// `{ p50, p99, max }` in milliseconds.
fn summary(env: Env, log: &DurationLog) -> JsResult<napi_value> {
    const NS_PER_MS: f64 = 1e6;
    let ms = |ns: u64| js::number(env, ns as f64 / NS_PER_MS);
    object(
        env,
        &[
            (c"p50", ms(log.quantile(0.5))?),
            (c"p99", ms(log.quantile(0.99))?),
            (c"max", ms(log.max())?),
        ],
    )
}

fn object(env: Env, fields: &[(&std::ffi::CStr, napi_value)]) -> JsResult<napi_value> {
    let mut object = ptr::null_mut();
    napi!(env, napi_create_object(&mut object))?;
    for (key, value) in fields {
        napi!(env, napi_set_named_property(object, key.as_ptr(), *value))?;
    }
    Ok(object)
}

/// The pool executor: a Promise for `task`, run on this environment's pool (started with the
/// defaults if need be). The caller has checked that `token`, if any, is not cancelled yet.
pub fn submit<T>(env: Env, task: T, token: Option<Token>) -> JsResult<napi_value>
where
    T: Task + Send + 'static,
    T::Output: Send,
{
    let pool = running_pool(env)?;
    let (deferred, promise) = task::create_promise(env)?;
    let id = NEXT_ID.fetch_add(1, Ordering::Relaxed);
    if let Some(token) = &token {
        token.attach(Arc::new(QueuedJob { id }));
    }
    let job = Job {
        id,
        queued_at: Instant::now(),
        abort: Arc::new(AtomicBool::new(false)),
        token,
        deferred: Deferred(deferred),
        stage: Stage::Queued(Box::new(Runs(task))),
    };
    pool.books().add_pending();
    let wake = {
        let mut queue = lock(&pool.shared);
        queue.waiting.insert(id, job);
        pool.shared.count_queued(&queue);
        // A spinning thread takes the only queued job (it clears `spinning` under this lock
        // before it parks, and then finds the job); wake a parked one for any more.
        !(pool.shared.spinning.load(Ordering::Relaxed) && queue.waiting.len() == 1)
    };
    if wake {
        pool.shared.ready.notify_one();
    }
    Ok(promise)
}

/// What a token attached to pool job `id` does on `cancel(token)`.
struct QueuedJob {
    id: u64,
}

impl PendingWork for QueuedJob {
    /// A queued job is taken off the queue and rejected with an `AbortError` now; a running one
    /// gets its abort flag set. (A job that has finished but not yet been settled sees the
    /// token's own flag when it is.)
    fn on_cancel(&self, env: Env) {
        let state = env::state_ptr(env);
        if state.is_null() {
            return;
        }
        // SAFETY: see `env::state`.
        let state = unsafe { &*state };
        let Some(pool) = current(state) else {
            return;
        };
        let removed = {
            let mut queue = lock(&pool.shared);
            let removed = queue.waiting.remove(&self.id);
            pool.shared.count_queued(&queue);
            if removed.is_none() {
                if let Some((_, abort)) = queue.running.iter().find(|(job, _)| *job == self.id) {
                    abort.store(true, Ordering::Relaxed);
                }
            }
            removed
        };
        if let Some(job) = removed {
            // `books` outlives a stop() that settling may run (it goes a loop turn later).
            let books = pool.books();
            job.settle(env, true);
            books.sub_pending();
        }
    }
}

// ---- thread priority ------------------------------------------------------------------------

#[cfg(target_os = "linux")]
mod sys {
    use super::Policy;
    use std::ffi::{CString, c_char, c_int, c_long, c_uint};

    // <sys/resource.h>
    const PRIO_PROCESS: c_int = 0;
    // <sys/prctl.h>
    const PR_SET_NAME: c_int = 15;
    // <sched.h>
    const SCHED_OTHER: c_int = 0;
    const SCHED_BATCH: c_int = 3;
    const SCHED_IDLE: c_int = 5;

    #[repr(C)]
    struct SchedParam {
        sched_priority: c_int,
    }

    // <sys/syscall.h>: SYS_gettid. Elsewhere `who = 0`, which Linux also reads as "the calling
    // thread" (nice values are per thread there).
    #[cfg(target_arch = "x86_64")]
    const SYS_GETTID: Option<c_long> = Some(186);
    #[cfg(any(target_arch = "aarch64", target_arch = "riscv64"))]
    const SYS_GETTID: Option<c_long> = Some(178);
    #[cfg(not(any(target_arch = "x86_64", target_arch = "aarch64", target_arch = "riscv64")))]
    const SYS_GETTID: Option<c_long> = None;

    unsafe extern "C" {
        fn setpriority(which: c_int, who: c_uint, prio: c_int) -> c_int;
        fn sched_setscheduler(pid: c_int, policy: c_int, param: *const SchedParam) -> c_int;
        fn syscall(number: c_long, ...) -> c_long;
        fn prctl(option: c_int, ...) -> c_int;
    }

    /// For the calling thread: `setpriority(PRIO_PROCESS, gettid(), nice)` (under every policy:
    /// SCHED_IDLE ignores it, but it is kept and reported), then its scheduling policy (lowering
    /// one's own needs no privilege, raising it back may: RLIMIT_NICE decides; pid 0 is the
    /// calling thread). True if the system took both. Pool threads call it for themselves, and
    /// `setThreadPolicy()` for its caller.
    pub fn apply(nice: i32, policy: Policy) -> bool {
        let tid = match SYS_GETTID {
            // SAFETY: gettid takes no arguments and cannot fail.
            Some(number) => unsafe { syscall(number) },
            None => 0,
        };
        // SAFETY: a plain system call on our own thread.
        let reniced = tid >= 0 && unsafe { setpriority(PRIO_PROCESS, tid as c_uint, nice) } == 0;
        let linux_policy = match policy {
            Policy::Idle => SCHED_IDLE,
            Policy::Batch => SCHED_BATCH,
            Policy::Normal => SCHED_OTHER,
        };
        let param = SchedParam { sched_priority: 0 };
        // SAFETY: a plain system call on our own thread, with a valid param.
        let scheduled = unsafe { sched_setscheduler(0, linux_policy, &param) } == 0;
        scheduled && reniced
    }

    /// A pool thread's start: its settings ([`apply`]), then its name — last, so that a thread
    /// that shows its name in /proc runs at its settings already. Failures are ignored.
    pub fn prepare(index: usize, nice: i32, policy: Policy) {
        apply(nice, policy);
        // At most 15 bytes and the NUL: "offloop-rs-255".
        if let Ok(name) = CString::new(format!("offloop-rs-{index}")) {
            // SAFETY: names the calling thread; the kernel copies (and cuts) the string.
            unsafe { prctl(PR_SET_NAME, name.as_ptr() as *const c_char, 0, 0, 0) };
        }
    }
}

#[cfg(not(target_os = "linux"))]
mod sys {
    use super::Policy;

    /// Elsewhere: nothing (a process-wide `setpriority` would slow the event loop too; the C++
    /// addon lowers the thread's priority within its policy where it can).
    pub fn apply(_nice: i32, _policy: Policy) -> bool {
        false
    }

    pub fn prepare(_index: usize, _nice: i32, _policy: Policy) {}
}
