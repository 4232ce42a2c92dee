//! Cancel tokens: a JS external wrapping an `Arc<CancelState>`, shared with the async work that
//! uses it. Like `cancel.h` in the C++ addon:
//!
//! * `cancelled`: `cancel(token)` was called (atomic, relaxed). Kernels poll their call's own
//!   abort flag, which the executor's [`PendingWork::on_cancel`] sets (as may an ending
//!   environment or a stopped pool).
//! * `pending`: the call the token serves, until it settles — one slot that the executor running
//!   the call fills ([`CancelState::attach`]). This module knows no executor; each implements
//!   [`PendingWork`]. Touched on the JS thread only (the mutex just makes the state `Sync`).
//!
//! The external carries a type tag unique to this addon, so an external from anywhere else
//! (the C++ addon's token included) is rejected instead of being misread as ours. Its finaliser
//! drops the JS side's reference; a pending call keeps the state alive through its own `Arc`.

use crate::args;
use crate::js::{self, Env, JsResult, napi};
use crate::napi::*;
use std::ffi::c_void;
use std::ptr;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};

/// Tags the externals made by `createCancelToken` (random; distinct from the C++ addon's).
const TOKEN_TAG: napi_type_tag = napi_type_tag {
    lower: 0x6f66_666c_6f6f_7072,
    upper: 0x9c1e_52d4_3b7a_e061,
};

/// A pending call a token is attached to, implemented by each executor. JS thread only.
pub trait PendingWork: Send + Sync {
    /// `cancel(token)` has just set the token's flag: take the work back if it is still queued
    /// (it then settles with an `AbortError`, now or later), else make sure the running kernel
    /// sees the cancellation. May settle the call (which detaches the token).
    fn on_cancel(&self, env: Env);
}

#[derive(Default)]
pub struct CancelState {
    cancelled: AtomicBool,
    pending: Mutex<Option<Arc<dyn PendingWork>>>,
}

pub type Token = Arc<CancelState>;

impl CancelState {
    pub fn is_cancelled(&self) -> bool {
        self.cancelled.load(Ordering::Relaxed)
    }

    fn slot(&self) -> MutexGuard<'_, Option<Arc<dyn PendingWork>>> {
        self.pending.lock().unwrap_or_else(PoisonError::into_inner)
    }

    pub fn is_attached(&self) -> bool {
        self.slot().is_some()
    }

    /// JS thread: the token now serves `work`.
    pub fn attach(&self, work: Arc<dyn PendingWork>) {
        *self.slot() = Some(work);
    }

    /// JS thread: the call has settled (or is being dropped); the token is free again.
    pub fn detach(&self) {
        *self.slot() = None;
    }

    /// JS thread: set the flag and tell the pending call, if any. Harmless when repeated or
    /// when idle.
    pub fn cancel(&self, env: Env) {
        self.cancelled.store(true, Ordering::Relaxed);
        let pending = self.slot().clone(); // not held while the call settles (it detaches)
        if let Some(work) = pending {
            work.on_cancel(env);
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
