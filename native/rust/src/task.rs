//! What a task is, and where it runs.
//!
//! A [`Task`] is validated, owned inputs plus `run(cancel)` — pure computation, callable on any
//! thread, no Node-API — and `to_js(env, output)`, which turns the result into a JS value on the
//! JS thread. Executors decide where `run` happens and how the result is delivered:
//!
//! * [`run_now`]: on the calling JS thread; the value is returned, a failure thrown.
//! * [`queue`]: one libuv async work item (`napi_create_async_work`) on the threadpool,
//!   settling a Promise (`napi_create_promise`) from the completion callback.
//! * `crate::pool::submit`: the addon's own thread pool (one per environment), settling the
//!   Promise through the pool's loop signal (`crate::loop_signal`). It builds on this module; this one
//!   knows nothing of it.
//!
//! Which executor runs an export is chosen in `crate::ops` (like `Where` in the C++ addon's
//! `addon.cc`). Both asynchronous executors settle through [`outcome_settlement`] and [`settle`],
//! so a task's values and errors are the same wherever it ran.

use crate::cancel::{PendingWork, Token};
use crate::inflight::InFlight;
use crate::js::{self, Env, ErrorKind, JsResult, napi};
use crate::kernels::Stop;
use crate::napi::*;
use std::ffi::c_void;
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::ptr;
use std::rc::Rc;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

pub trait Task {
    type Output;
    /// The JS-facing name, for async resource names and error messages.
    const NAME: &'static str;
    /// The computation. Polls `cancel` as the contract requires and returns
    /// `Err(Stop::Cancelled)` when it sees it set.
    fn run(&self, cancel: &AtomicBool) -> Result<Self::Output, Stop>;
    /// The result as a JS value (JS thread).
    fn to_js(env: Env, output: Self::Output) -> JsResult<napi_value>;
}

/// How a `run` ended.
pub(crate) enum Outcome<O> {
    Done(O),
    Stopped(Stop),
    Panicked(String),
}

pub(crate) fn run_caught<T: Task>(task: &T, cancel: &AtomicBool) -> Outcome<T::Output> {
    match catch_unwind(AssertUnwindSafe(|| task.run(cancel))) {
        Ok(Ok(out)) => Outcome::Done(out),
        Ok(Err(stop)) => Outcome::Stopped(stop),
        Err(payload) => Outcome::Panicked(js::panic_message(&*payload)),
    }
}

/// The JS error for a run that did not produce a value.
pub(crate) fn failure_error(env: Env, name: &str, why: Result<Stop, String>) -> JsResult<napi_value> {
    match why {
        Ok(Stop::Cancelled) => js::abort_error(env),
        Ok(Stop::OutOfMemory { what, bytes }) => js::new_error(
            env,
            ErrorKind::Error,
            None,
            &format!("offloop_rust: {name}: out of memory allocating {bytes} bytes for the {what}"),
        ),
        Err(panic) => js::new_error(
            env,
            ErrorKind::Error,
            None,
            &format!("offloop_rust: {name} panicked: {panic}"),
        ),
    }
}

/// A flag nobody sets: the cancel flag of calls without a token.
static NEVER: AtomicBool = AtomicBool::new(false);

// ---- executor: now, on the JS thread ---------------------------------------------------------

/// Run `task` on the calling thread and return its value, or throw.
pub fn run_now<T: Task>(env: Env, task: T) -> JsResult<napi_value> {
    match run_caught(&task, &NEVER) {
        Outcome::Done(out) => T::to_js(env, out),
        Outcome::Stopped(stop) => throw_value(env, failure_error(env, T::NAME, Ok(stop))),
        Outcome::Panicked(msg) => throw_value(env, failure_error(env, T::NAME, Err(msg))),
    }
}

fn throw_value<T>(env: Env, err: JsResult<napi_value>) -> JsResult<T> {
    let err = err?;
    napi!(env, napi_throw(err))?;
    Err(js::Pending)
}

// ---- the asynchronous executors ---------------------------------------------------------------

/// A Promise already rejected with an `AbortError`: a call given a cancelled token.
pub(crate) fn aborted_at_once(env: Env) -> JsResult<napi_value> {
    let (deferred, promise) = create_promise(env)?;
    reject(env, deferred, js::abort_error(env));
    Ok(promise)
}

/// How a call settles: `Ok(value)` resolves, `Err(error)` rejects. Either side may be
/// `Err(Pending)` (making the value threw): the pending exception is then the rejection.
pub(crate) type Settlement = Result<JsResult<napi_value>, JsResult<napi_value>>;

/// What a call whose `run` ended with `outcome` settles to (JS thread). `cancelled`: cancel()
/// (or the pool's `stop()`) came before we could settle, so the call is aborted even if the
/// kernel happened to finish first: the outcome follows the JS-visible order.
pub(crate) fn outcome_settlement<T: Task>(
    env: Env,
    outcome: Outcome<T::Output>,
    cancelled: bool,
) -> Settlement {
    match outcome {
        Outcome::Done(_) if cancelled => Err(js::abort_error(env)),
        Outcome::Done(out) => match catch_unwind(AssertUnwindSafe(|| T::to_js(env, out))) {
            Ok(value) => Ok(value),
            Err(payload) => Err(failure_error(env, T::NAME, Err(js::panic_message(&*payload)))),
        },
        Outcome::Stopped(stop) => Err(failure_error(env, T::NAME, Ok(stop))),
        Outcome::Panicked(msg) => Err(failure_error(env, T::NAME, Err(msg))),
    }
}

/// Settle `deferred` (exactly once) as `settlement` says.
pub(crate) fn settle(env: Env, deferred: napi_deferred, settlement: Settlement) {
    match settlement {
        Ok(Ok(value)) => {
            // SAFETY: the caller hands over `deferred`, which is settled exactly once.
            let _ = unsafe { napi_resolve_deferred(env.raw(), deferred, value) };
        }
        Ok(Err(pending)) => reject(env, deferred, Err(pending)),
        Err(err) => reject(env, deferred, err),
    }
}

// ---- executor: libuv threadpool via napi async work ------------------------------------------

/// Everything one queued call owns; boxed, handed to libuv as `data`, reclaimed in `complete`.
struct Work<T: Task> {
    /// Taken and dropped by `execute`, so large inputs are freed on the pool thread, not on
    /// the event loop; still here in `complete` only if the work never ran.
    task: Option<T>,
    token: Option<Token>,
    /// What the kernel polls: set by `cancel(token)` and when the environment ends.
    abort: Arc<AtomicBool>,
    /// Where `abort` is registered while the call is in flight (JS thread only).
    in_flight: Rc<InFlight>,
    deferred: napi_deferred,
    work: napi_async_work,
    outcome: Option<Outcome<T::Output>>,
}

/// What a token attached to a libuv work item does on `cancel(token)`.
struct QueuedWork {
    work: napi_async_work,
    abort: Arc<AtomicBool>,
}

// SAFETY: the work handle is only used on the JS thread (`on_cancel`); the token that holds this
// may travel, the handle is not dereferenced elsewhere.
unsafe impl Send for QueuedWork {}
unsafe impl Sync for QueuedWork {}

impl PendingWork for QueuedWork {
    fn on_cancel(&self, env: Env) {
        self.abort.store(true, Ordering::Relaxed); // a running kernel stops
        // Fails with napi_generic_failure once the work has started (or was already cancelled).
        // SAFETY: the token is detached in `complete` before the work item is deleted, so the
        // handle is alive while this can be called.
        let _ = unsafe { napi_cancel_async_work(env.raw(), self.work) };
    }
}

/// A Promise for `task`, run as one async work item on libuv's threadpool. The caller has checked
/// that `token`, if any, is not cancelled yet.
pub fn queue<T>(env: Env, task: T, token: Option<Token>) -> JsResult<napi_value>
where
    T: Task + Send + 'static,
    T::Output: Send,
{
    let name = js::string(env, T::NAME)?;
    let in_flight = crate::env::state(env)?.threadpool.clone();
    let abort = Arc::new(AtomicBool::new(false));
    let data = Box::into_raw(Box::new(Work {
        task: Some(task),
        token,
        abort: abort.clone(),
        in_flight: in_flight.clone(),
        deferred: ptr::null_mut(),
        work: ptr::null_mut(),
        outcome: None,
    }));
    let mut work = ptr::null_mut();
    let created = napi!(
        env,
        napi_create_async_work(
            ptr::null_mut(),
            name,
            Some(execute::<T>),
            Some(complete::<T>),
            data.cast(),
            &mut work
        )
    );
    if created.is_err() {
        // SAFETY: not handed over.
        drop(unsafe { Box::from_raw(data) });
        return Err(js::Pending);
    }
    let (deferred, promise) = match create_promise(env) {
        Ok(p) => p,
        Err(e) => {
            let _ = napi!(env, napi_delete_async_work(work));
            // SAFETY: the work item that referenced it is deleted without having run.
            drop(unsafe { Box::from_raw(data) });
            return Err(e);
        }
    };
    // SAFETY: nothing else sees `data` until the work is queued below.
    let token = unsafe {
        (*data).deferred = deferred;
        (*data).work = work;
        (*data).token.clone()
    };
    if let Some(token) = &token {
        token.attach(Arc::new(QueuedWork {
            work,
            abort: abort.clone(),
        }));
    }
    in_flight.add(&abort);
    if napi!(env, napi_queue_async_work(work)).is_err() {
        in_flight.remove(&abort);
        if let Some(token) = &token {
            token.detach();
        }
        let _ = napi!(env, napi_delete_async_work(work));
        // SAFETY: never queued, so `execute`/`complete` will not run.
        drop(unsafe { Box::from_raw(data) });
        let err = js::take_exception(env).ok_or(js::Pending);
        reject(env, deferred, err);
    }
    Ok(promise)
}

pub(crate) fn create_promise(env: Env) -> JsResult<(napi_deferred, napi_value)> {
    let mut deferred = ptr::null_mut();
    let mut promise = ptr::null_mut();
    napi!(env, napi_create_promise(&mut deferred, &mut promise))?;
    Ok((deferred, promise))
}

/// Reject `deferred` with `err`, or with whatever exception making `err` left pending.
pub(crate) fn reject(env: Env, deferred: napi_deferred, err: JsResult<napi_value>) {
    let value = match err {
        Ok(v) => Some(v),
        Err(js::Pending) => js::take_exception(env),
    };
    let value = match value {
        Some(v) => v,
        None => match js::undefined(env) {
            Ok(v) => v,
            Err(_) => return,
        },
    };
    // SAFETY: each `deferred` is settled exactly once: rejected here or resolved in `complete`.
    let _ = unsafe { napi_reject_deferred(env.raw(), deferred, value) };
}

/// Pool thread. Must not touch the env.
unsafe extern "C" fn execute<T: Task>(_env: napi_env, data: *mut c_void) {
    // run_caught already contains panics from the task; this guards the glue itself.
    let _ = catch_unwind(AssertUnwindSafe(|| {
        // SAFETY: `data` is our `Work<T>`; the JS thread does not touch it until `complete`.
        let work = unsafe { &mut *(data as *mut Work<T>) };
        if let Some(task) = work.task.take() {
            work.outcome = Some(run_caught(&task, &work.abort));
        }
    }));
}

/// JS thread, after `execute` finished or was cancelled while queued (`napi_cancelled`).
unsafe extern "C" fn complete<T: Task>(env: napi_env, status: napi_status, data: *mut c_void) {
    let _ = catch_unwind(AssertUnwindSafe(|| {
        // SAFETY: called once per work item, on the JS thread, with the env of that thread.
        let env = unsafe { Env::new(env) };
        // SAFETY: reclaim the box leaked in `queue`; `execute` is over.
        let work = unsafe { Box::from_raw(data as *mut Work<T>) };
        let Work {
            task,
            token,
            abort,
            in_flight,
            deferred,
            work: handle,
            outcome,
        } = *work;
        in_flight.remove(&abort);
        // Detach before deleting, so a later cancel() never sees a dead handle.
        let cancelled = match &token {
            Some(t) => {
                t.detach();
                t.is_cancelled()
            }
            None => false,
        };
        let _ = napi!(env, napi_delete_async_work(handle));
        drop(task);

        let settled = match (status, outcome) {
            // Taken off the queue by cancel(): it never ran.
            (napi_cancelled, _) => Err(js::abort_error(env)),
            (_, Some(outcome)) => outcome_settlement::<T>(env, outcome, cancelled),
            (status, None) => Err(js::new_error(
                env,
                ErrorKind::Error,
                None,
                &format!(
                    "offloop_rust: {}: async work failed (napi_status {status})",
                    T::NAME
                ),
            )),
        };
        settle(env, deferred, settled);
    }));
}
