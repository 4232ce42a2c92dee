//! offloop's Rust addon: the kernels of `kernels/` behind raw Node-API, to the contract in
//! `native/README.md`.
//!
//! | module    | does |
//! |-----------|------|
//! | `napi`    | the C declarations (FFI only) |
//! | `js`      | status checks, values, errors, buffers over the FFI |
//! | `args`    | argument validation → `TypeError` / `RangeError` |
//! | `cancel`  | cancel tokens |
//! | `env`     | per-environment state (instance data) |
//! | `inflight`| libuv-path calls in flight, stopped when their environment ends |
//! | `memory`  | native byte buffers (huge-page mappings for big ones) |
//! | `task`    | the `Task` trait and its executors (inline, libuv async work) |
//! | `durations` | a pool's histogram of task times (`pool.stats()`) |
//! | `pool`    | the dedicated pool: the third executor, per environment (`exports.pool`) |
//! | `ops`     | each kernel's task and argument checks, and the generic exports (`sync`, `run_async` on a `Where`) |
//! | `kernels` | pure computation, no Node-API |
//!
//! This file registers the module: two tables of exports (the top level, and `exports.pool`),
//! all dispatched through a single `extern "C"` trampoline that catches panics.

// The FFI keeps Node's C names (napi_ok, napi_number, ...), constants included.
#![allow(non_upper_case_globals)]

mod args;
mod cancel;
mod durations;
mod env;
mod inflight;
mod js;
mod kernels;
mod loop_signal;
mod memory;
mod napi;
mod ops;
mod pool;
mod task;

use js::{Env, JsResult};
use napi::*;
use ops::{Blur, Noop, Pbkdf2, Pool, Primes, Sleep, Threadpool};
use std::ffi::{CStr, c_void};
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::ptr;

/// The most arguments any export reads; absent ones arrive as `undefined`.
const MAX_ARGS: usize = 6;

struct Export {
    name: &'static CStr,
    /// How panic messages name it (`name`, or `pool.name`).
    label: &'static str,
    body: fn(Env, ops::Argv) -> JsResult<napi_value>,
}

macro_rules! export {
    ($name:literal, $body:expr) => {
        Export {
            name: $name,
            label: match $name.to_str() {
                Ok(s) => s,
                Err(_) => "<export>",
            },
            body: $body,
        }
    };
    ($name:literal as $label:literal, $body:expr) => {
        Export {
            name: $name,
            label: $label,
            body: $body,
        }
    };
}

/// The exported functions (`shaBackend`, a value, and `pool`, an object, are added in `init`).
static EXPORTS: [Export; 12] = [
    export!(c"primesSync", ops::sync::<Primes>),
    export!(c"pbkdf2Sync", ops::sync::<Pbkdf2>),
    export!(c"blurSync", ops::sync::<Blur>),
    export!(c"sleepSync", ops::sync::<Sleep>),
    export!(c"primes", ops::run_async::<Primes, Threadpool>),
    export!(c"pbkdf2", ops::run_async::<Pbkdf2, Threadpool>),
    export!(c"blur", ops::run_async::<Blur, Threadpool>),
    export!(c"sleep", ops::run_async::<Sleep, Threadpool>),
    export!(c"noop", ops::run_async::<Noop, Threadpool>),
    export!(c"createCancelToken", ops::create_cancel_token),
    export!(c"cancel", ops::cancel),
    export!(c"setThreadPolicy", ops::set_thread_policy),
];

/// The methods of `exports.pool`: the dedicated pool, same tasks, another executor.
static POOL_EXPORTS: [Export; 8] = [
    export!(c"start" as "pool.start", ops::pool_start),
    export!(c"stop" as "pool.stop", ops::pool_stop),
    export!(c"stats" as "pool.stats", ops::pool_stats),
    export!(c"primes" as "pool.primes", ops::run_async::<Primes, Pool>),
    export!(c"pbkdf2" as "pool.pbkdf2", ops::run_async::<Pbkdf2, Pool>),
    export!(c"blur" as "pool.blur", ops::run_async::<Blur, Pool>),
    export!(c"sleep" as "pool.sleep", ops::run_async::<Sleep, Pool>),
    export!(c"noop" as "pool.noop", ops::run_async::<Noop, Pool>),
];

/// Every exported function: fetch the arguments and the `Export` (the callback's data), run
/// its body, and make sure nothing unwinds into Node.
unsafe extern "C" fn trampoline(env: napi_env, info: napi_callback_info) -> napi_value {
    // SAFETY: Node calls us on the JS thread with a live env for the duration of the call.
    let env = unsafe { Env::new(env) };
    let mut name = "<export>";
    let result = catch_unwind(AssertUnwindSafe(|| -> JsResult<napi_value> {
        let mut argc = MAX_ARGS;
        let mut argv = [ptr::null_mut(); MAX_ARGS];
        let mut data: *mut c_void = ptr::null_mut();
        js::napi!(
            env,
            napi_get_cb_info(info, &mut argc, argv.as_mut_ptr(), ptr::null_mut(), &mut data)
        )?;
        // SAFETY: `data` is the `&'static Export` registered with this function in `init`.
        let export = unsafe { &*(data as *const Export) };
        name = export.label;
        // argv beyond argc was filled with `undefined` by napi_get_cb_info.
        (export.body)(env, &argv)
    }));
    match result {
        Ok(Ok(value)) => value,
        Ok(Err(js::Pending)) => ptr::null_mut(),
        Err(payload) => {
            if !js::exception_pending(env) {
                let msg = format!("offloop_rust: {name} panicked: {}", js::panic_message(&*payload));
                let _ = js::throw::<()>(env, js::ErrorKind::Error, None, &msg);
            }
            ptr::null_mut()
        }
    }
}

/// Property descriptors for a table of exports.
fn methods(table: &'static [Export]) -> Vec<napi_property_descriptor> {
    table
        .iter()
        .map(|e| napi_property_descriptor {
            utf8name: e.name.as_ptr(),
            name: ptr::null_mut(),
            method: Some(trampoline),
            getter: None,
            setter: None,
            value: ptr::null_mut(),
            attributes: napi_default_jsproperty,
            data: e as *const Export as *mut c_void,
        })
        .collect()
}

fn init(env: Env, exports: napi_value) -> JsResult<napi_value> {
    let backend = kernels::sha256::backend(); // reads OFFLOOP_SHA, once per process
    pool::read_spin(); // reads OFFLOOP_POOL_SPIN_US, once per process, when the addon loads
    let backend_name = js::string(env, backend.name())?;
    env::init(env)?; // this environment's state: no pool yet, no work in flight

    let mut pool_object = ptr::null_mut();
    js::napi!(env, napi_create_object(&mut pool_object))?;
    let pool_props = methods(&POOL_EXPORTS);
    js::napi!(
        env,
        napi_define_properties(pool_object, pool_props.len(), pool_props.as_ptr())
    )?;

    let mut props = methods(&EXPORTS);
    props.push(napi_property_descriptor {
        utf8name: c"pool".as_ptr(),
        name: ptr::null_mut(),
        method: None,
        getter: None,
        setter: None,
        value: pool_object,
        attributes: napi_default_jsproperty,
        data: ptr::null_mut(),
    });
    props.push(napi_property_descriptor {
        utf8name: c"shaBackend".as_ptr(),
        name: ptr::null_mut(),
        method: None,
        getter: None,
        setter: None,
        value: backend_name,
        // Fixed when the addon loads: read-only.
        attributes: napi_enumerable,
        data: ptr::null_mut(),
    });
    js::napi!(env, napi_define_properties(exports, props.len(), props.as_ptr()))?;
    Ok(exports)
}

/// Called by Node when the addon is loaded (once per environment: main thread, each worker).
///
/// # Safety
/// Called by Node only, with a live env and its `exports` object.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn napi_register_module_v1(env: napi_env, exports: napi_value) -> napi_value {
    // SAFETY: Node calls this on the JS thread with a live env.
    let env = unsafe { Env::new(env) };
    match catch_unwind(AssertUnwindSafe(|| init(env, exports))) {
        Ok(Ok(exports)) => exports,
        Ok(Err(js::Pending)) => ptr::null_mut(),
        Err(payload) => {
            if !js::exception_pending(env) {
                let msg = format!(
                    "offloop_rust: module init panicked: {}",
                    js::panic_message(&*payload)
                );
                let _ = js::throw::<()>(env, js::ErrorKind::Error, None, &msg);
            }
            ptr::null_mut()
        }
    }
}

/// The Node-API version this addon targets.
#[unsafe(no_mangle)]
pub extern "C" fn node_api_module_get_api_version_v1() -> i32 {
    NAPI_VERSION
}
