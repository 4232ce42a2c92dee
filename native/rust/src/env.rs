//! Per-environment state (the addon's instance data): the main thread and each worker thread
//! that loads the addon get their own. JS thread only. Like `env.h` in the C++ addon.

use crate::inflight::InFlight;
use crate::js::{self, Env, ErrorKind, JsResult, napi};
use crate::napi::*;
use std::any::Any;
use std::cell::RefCell;
use std::ffi::c_void;
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::ptr;
use std::rc::Rc;

/// What `crate::pool` keeps here: its running pool (opaque: this module sits below `pool`).
pub trait PoolSlot: Any {
    /// The environment's state is being freed and the pool still runs: stop it, run no JS.
    fn teardown(&self, env: napi_env, state: *mut c_void);
    fn as_any(&self) -> &dyn Any;
}

pub struct EnvState {
    /// The running dedicated pool, if any.
    pub pool: RefCell<Option<Box<dyn PoolSlot>>>,
    /// This environment's calls on libuv's threadpool.
    pub threadpool: Rc<InFlight>,
    /// `%TypedArray%.prototype.at`, captured when the addon loads (see `crate::args::bytes`).
    typed_array_at: napi_ref,
}

/// Module init: give this environment its state.
pub fn init(env: Env) -> JsResult<()> {
    let typed_array_at = capture_typed_array_at(env)?;
    let state = Box::into_raw(Box::new(EnvState {
        pool: RefCell::new(None),
        threadpool: InFlight::init(env)?,
        typed_array_at,
    }));
    // SAFETY: on success Node owns the box and hands it back to `finalize` once.
    let status = unsafe { napi_set_instance_data(env.raw(), state.cast(), Some(finalize), ptr::null_mut()) };
    if status != napi_ok {
        // SAFETY: not handed over.
        drop(unsafe { Box::from_raw(state) });
        js::check(env, status, "napi_set_instance_data")?;
    }
    Ok(())
}

/// This environment's state, or null before `init`.
pub fn state_ptr(env: Env) -> *mut EnvState {
    let mut data = ptr::null_mut();
    // SAFETY: a plain query on a live env.
    let status = unsafe { napi_get_instance_data(env.raw(), &mut data) };
    if status == napi_ok {
        data.cast()
    } else {
        ptr::null_mut()
    }
}

/// This environment's state. The reference is used within the current JS-thread callback only.
pub fn state<'a>(env: Env) -> JsResult<&'a EnvState> {
    let state = state_ptr(env);
    if state.is_null() {
        return js::throw(
            env,
            ErrorKind::Error,
            None,
            "offloop_rust: the addon has no instance data",
        );
    }
    // SAFETY: set in `init`; freed only by `finalize` when the environment goes away, which
    // cannot happen during a callback from it.
    Ok(unsafe { &*state })
}

impl EnvState {
    /// The built-in `%TypedArray%.prototype.at` (captured before user code could replace it).
    pub fn typed_array_at(&self, env: Env) -> JsResult<napi_value> {
        let mut at = ptr::null_mut();
        napi!(env, napi_get_reference_value(self.typed_array_at, &mut at))?;
        Ok(at)
    }
}

fn capture_typed_array_at(env: Env) -> JsResult<napi_ref> {
    let mut global = ptr::null_mut();
    napi!(env, napi_get_global(&mut global))?;
    let mut uint8 = ptr::null_mut();
    napi!(
        env,
        napi_get_named_property(global, c"Uint8Array".as_ptr(), &mut uint8)
    )?;
    let mut prototype = ptr::null_mut();
    napi!(
        env,
        napi_get_named_property(uint8, c"prototype".as_ptr(), &mut prototype)
    )?;
    let mut typed_array_prototype = ptr::null_mut();
    napi!(env, napi_get_prototype(prototype, &mut typed_array_prototype))?;
    let mut at = ptr::null_mut();
    napi!(
        env,
        napi_get_named_property(typed_array_prototype, c"at".as_ptr(), &mut at)
    )?;
    let mut reference = ptr::null_mut();
    napi!(env, napi_create_reference(at, 1, &mut reference))?;
    Ok(reference)
}

/// Instance-data finaliser (environment teardown, after the pool's own hook has normally
/// stopped it already).
unsafe extern "C" fn finalize(env: napi_env, data: *mut c_void, _hint: *mut c_void) {
    let _ = catch_unwind(AssertUnwindSafe(|| {
        // SAFETY: the box leaked in `init`; Node finalises it once.
        let state = unsafe { Box::from_raw(data as *mut EnvState) };
        let pool = state.pool.try_borrow_mut().ok().and_then(|mut p| p.take());
        if let Some(pool) = pool {
            pool.teardown(env, data);
        }
        // SAFETY: the reference made in `init`, deleted once (Node frees what is left anyway).
        let _ = unsafe { napi_delete_reference(env, state.typed_array_at) };
    }));
}
