//! Cancel tokens: a JS external wrapping an `Arc<CancelState>`, shared with the async work that
//! uses it.
//!
//! * `cancelled`: `cancel(token)` was called (atomic, relaxed). Kernels poll their call's own
//!   abort flag, which `cancel` sets too (and so may an ending environment or a stopped pool).
//! * `attached` / `work` / `work_abort` / `pool_job` say which pending call the token serves (a
//!   libuv work item, or a job of the dedicated pool); they are touched on the JS thread only
//!   (atomics and a mutex just make the state `Sync` without `unsafe impl`).
//!
//! The external carries a type tag unique to this addon, so an external from anywhere else
//! (the C++ addon's token included) is rejected instead of being misread as ours. Its finaliser
//! drops the JS side's reference; a pending call keeps the state alive through its own `Arc`.

use crate::args;
use crate::js::{self, Env, JsResult, napi};
use crate::napi::*;
use std::ffi::c_void;
use std::ptr;
use std::sync::atomic::{AtomicBool, AtomicPtr, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, PoisonError};

/// Tags the externals made by `createCancelToken` (random; distinct from the C++ addon's).
const TOKEN_TAG: napi_type_tag = napi_type_tag {
    lower: 0x6f66_666c_6f6f_7072,
    upper: 0x9c1e_52d4_3b7a_e061,
};

#[derive(Default)]
pub struct CancelState {
    cancelled: AtomicBool,
    attached: AtomicBool,
    work: AtomicPtr<napi_async_work__>,
    /// The flag the attached libuv work's kernel polls.
    work_abort: Mutex<Option<Arc<AtomicBool>>>,
    /// The id of the pool job this token serves (see `crate::pool`), 0 when none.
    pool_job: AtomicU64,
}

pub type Token = Arc<CancelState>;

impl CancelState {
    pub fn is_cancelled(&self) -> bool {
        self.cancelled.load(Ordering::Relaxed)
    }

    pub fn is_attached(&self) -> bool {
        self.attached.load(Ordering::Relaxed)
    }

    /// JS thread: the token now serves a pending call: `work`, the libuv work item to cancel if
    /// it is still queued, whose kernel polls `abort`.
    pub fn attach(&self, work: napi_async_work, abort: Arc<AtomicBool>) {
        self.work.store(work, Ordering::Relaxed);
        *self.work_abort.lock().unwrap_or_else(PoisonError::into_inner) = Some(abort);
        self.attached.store(true, Ordering::Relaxed);
    }

    /// JS thread: the token now serves pool job `id` (ids are never 0).
    pub fn attach_pool(&self, id: u64) {
        self.pool_job.store(id, Ordering::Relaxed);
        self.attached.store(true, Ordering::Relaxed);
    }

    /// JS thread: the call has completed; the token is free again.
    pub fn detach(&self) {
        self.work.store(ptr::null_mut(), Ordering::Relaxed);
        *self.work_abort.lock().unwrap_or_else(PoisonError::into_inner) = None;
        self.pool_job.store(0, Ordering::Relaxed);
        self.attached.store(false, Ordering::Relaxed);
    }

    /// JS thread: set the flag; if the attached work is still queued, take it off the queue (its
    /// completion then runs with `napi_cancelled`; a pool job is rejected at once). Harmless when
    /// repeated or when idle.
    pub fn cancel(&self, env: Env) {
        self.cancelled.store(true, Ordering::Relaxed);
        if let Some(abort) = &*self.work_abort.lock().unwrap_or_else(PoisonError::into_inner) {
            abort.store(true, Ordering::Relaxed); // a running kernel stops
        }
        let work = self.work.load(Ordering::Relaxed);
        if !work.is_null() {
            // Fails with napi_generic_failure once the work has started (or was already
            // cancelled); the flag covers that case.
            // SAFETY: `work` is only non-null between attach and detach, i.e. while the work
            // item exists (its completion detaches before deleting it).
            let _ = unsafe { napi_cancel_async_work(env.raw(), work) };
        }
        let job = self.pool_job.load(Ordering::Relaxed);
        if job != 0 {
            // Queued: removed and rejected now (which detaches us). Running: its own flag is set
            // and the kernel stops. Finished but not yet settled: `cancelled` above decides.
            crate::pool::cancel_job(env, job);
        }
    }
}

/// `createCancelToken()`.
pub fn create_token(env: Env) -> JsResult<napi_value> {
    let raw = Arc::into_raw(Arc::new(CancelState::default())) as *mut c_void;
    let mut external = ptr::null_mut();
    // SAFETY: on success Node owns one strong count and gives it back through the finaliser.
    let status = unsafe {
        napi_create_external(
            env.raw(),
            raw,
            Some(finalize_token),
            ptr::null_mut(),
            &mut external,
        )
    };
    if status != napi_ok {
        // SAFETY: not handed over; reclaim the count.
        drop(unsafe { Arc::from_raw(raw as *const CancelState) });
        js::check(env, status, "napi_create_external")?;
    }
    napi!(env, napi_type_tag_object(external, &TOKEN_TAG))?;
    Ok(external)
}

unsafe extern "C" fn finalize_token(_env: napi_env, data: *mut c_void, _hint: *mut c_void) {
    let _ = std::panic::catch_unwind(|| {
        // SAFETY: the strong count handed to Node in `create_token`, released exactly once.
        drop(unsafe { Arc::from_raw(data as *const CancelState) });
    });
}

/// The state behind `v` if it is one of our tokens, else `None`.
fn lookup(env: Env, v: napi_value) -> JsResult<Option<Token>> {
    if js::type_of(env, v)? != napi_external {
        return Ok(None);
    }
    let mut ours = false;
    napi!(env, napi_check_object_type_tag(v, &TOKEN_TAG, &mut ours))?;
    if !ours {
        return Ok(None);
    }
    let mut data = ptr::null_mut();
    napi!(env, napi_get_value_external(v, &mut data))?;
    if data.is_null() {
        return Ok(None);
    }
    let data = data as *const CancelState;
    // SAFETY: tagged externals hold a live `Arc<CancelState>` (the external is reachable, so its
    // finaliser has not run); take a new strong count for the caller.
    unsafe {
        Arc::increment_strong_count(data);
        Ok(Some(Arc::from_raw(data)))
    }
}

/// The optional `token` argument of an async call: `undefined` → `None`; one of our tokens that
/// is not serving another pending call → `Some`; anything else → `TypeError`.
pub fn optional_token(env: Env, v: napi_value) -> JsResult<Option<Token>> {
    if js::type_of(env, v)? == napi_undefined {
        return Ok(None);
    }
    let Some(token) = lookup(env, v)? else {
        let got = args::describe(env, v)?;
        return args::type_error(
            env,
            &format!(
                "The \"token\" argument must be a token from createCancelToken() or undefined. Received {got}"
            ),
        );
    };
    if token.is_attached() {
        return args::type_error(
            env,
            "The \"token\" argument is already attached to a pending call",
        );
    }
    Ok(Some(token))
}

/// The required `token` argument of `cancel(token)`.
pub fn required_token(env: Env, v: napi_value) -> JsResult<Token> {
    match lookup(env, v)? {
        Some(token) => Ok(token),
        None => {
            let got = args::describe(env, v)?;
            args::type_error(
                env,
                &format!("The \"token\" argument must be a token from createCancelToken(). Received {got}"),
            )
        }
    }
}
