//! offloop's Rust addon: the kernels of `kernels/` behind raw Node-API, to the contract in
//! `native/README.md`.
//!
//! | module    | does |
//! |-----------|------|
//! | `napi`    | the C declarations (FFI only) |
//! | `js`      | status checks, values, errors, buffers over the FFI |
//! | `args`    | argument validation → `TypeError` / `RangeError` |
//! | `cancel`  | cancel tokens |
//! | `memory`  | native byte buffers (huge-page mappings for big ones) |
//! | `task`    | the `Task` trait and its executors (inline, libuv async work) |
//! | `ops`     | the exported operations |
//! | `kernels` | pure computation, no Node-API |
//!
//! This file registers the module: one table of exports, all dispatched through a single
//! `extern "C"` trampoline that catches panics.

// The FFI keeps Node's C names (napi_ok, napi_number, ...), constants included.
#![allow(non_upper_case_globals)]

mod args;
mod cancel;
mod js;
mod kernels;
mod memory;
mod napi;
mod ops;
mod task;

use js::{Env, JsResult};
use napi::*;
use std::ffi::{CStr, c_void};
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::ptr;

/// The most arguments any export reads; absent ones arrive as `undefined`.
const MAX_ARGS: usize = 6;

struct Export {
    name: &'static CStr,
    body: fn(Env, ops::Argv) -> JsResult<napi_value>,
}

/// The exported functions (`shaBackend`, a value, is added in `init`).
static EXPORTS: [Export; 11] = [
    Export {
        name: c"primesSync",
        body: ops::primes_sync,
    },
    Export {
        name: c"pbkdf2Sync",
        body: ops::pbkdf2_sync,
    },
    Export {
        name: c"blurSync",
        body: ops::blur_sync,
    },
    Export {
        name: c"sleepSync",
        body: ops::sleep_sync,
    },
    Export {
        name: c"primes",
        body: ops::primes,
    },
    Export {
        name: c"pbkdf2",
        body: ops::pbkdf2,
    },
    Export {
        name: c"blur",
        body: ops::blur,
    },
    Export {
        name: c"sleep",
        body: ops::sleep,
    },
    Export {
        name: c"noop",
        body: ops::noop,
    },
    Export {
        name: c"createCancelToken",
        body: ops::create_cancel_token,
    },
    Export {
        name: c"cancel",
        body: ops::cancel,
    },
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
        name = export.name.to_str().unwrap_or("<export>");
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

fn init(env: Env, exports: napi_value) -> JsResult<napi_value> {
    let backend = kernels::sha256::backend(); // reads OFFLOOP_SHA, once per process
    let backend_name = js::string(env, backend.name())?;
    let mut props: Vec<napi_property_descriptor> = EXPORTS
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
        .collect();
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
