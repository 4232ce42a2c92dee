//! Small helpers over the raw FFI in `napi.rs`: status checks, making values, making and
//! throwing errors (including the `AbortError` DOMException), and handing byte buffers to JS.
//!
//! Convention: a function returning [`JsResult`] either succeeded or left a JS exception
//! pending; the caller just propagates `Err(Pending)` with `?` back to the trampoline, which
//! returns to JS where the exception is thrown. All of this runs on the JS thread only.

use crate::memory::Bytes;
use crate::napi::*;
use std::ffi::{CStr, c_void};
use std::ptr;

/// A `napi_env` we are allowed to use: only ever made on the JS thread, from the env Node passed
/// to the callback we are in. It is `!Send` (it wraps a raw pointer), so it cannot reach a pool
/// thread by accident.
#[derive(Clone, Copy)]
pub struct Env(napi_env);

impl Env {
    /// # Safety
    /// `raw` is the env Node passed to the currently running callback, on its JS thread, and
    /// the result does not outlive that callback.
    pub unsafe fn new(raw: napi_env) -> Self {
        Env(raw)
    }

    pub fn raw(self) -> napi_env {
        self.0
    }
}

/// "A JS exception is pending": the error has already been thrown.
#[derive(Debug)]
pub struct Pending;

pub type JsResult<T> = Result<T, Pending>;

/// Call a `napi_*` function from `crate::napi` and turn a failing status into a pending
/// exception: `napi!(env, napi_get_undefined(&mut v))?`.
macro_rules! napi {
    ($env:expr, $f:ident ( $($arg:expr),* $(,)? )) => {{
        let env: $crate::js::Env = $env;
        // SAFETY: `env` is valid (see `Env::new`); the arguments are values and out-pointers
        // of the types the declaration in napi.rs asks for.
        $crate::js::check(env, unsafe { $crate::napi::$f(env.raw() $(, $arg)*) }, stringify!($f))
    }};
}
pub(crate) use napi;

/// Turn a status into `Ok`, or into a pending exception: whatever the engine already has
/// pending, else an `Error` saying which call failed and why.
pub fn check(env: Env, status: napi_status, call: &str) -> JsResult<()> {
    if status == napi_ok {
        return Ok(());
    }
    // Read the error info first: any other napi call would overwrite it.
    let detail = last_error_message(env);
    if !exception_pending(env) {
        let msg = format!("offloop_rust: {call} failed: {detail} (napi_status {status})");
        throw_unchecked(env, &msg);
    }
    Err(Pending)
}

/// Throw `new Error(msg)` with raw calls whose failures are ignored: the last resort of
/// [`check`], which must not recurse into itself (e.g. while the environment is shutting down
/// and every call fails).
fn throw_unchecked(env: Env, msg: &str) {
    let raw = env.raw();
    let mut text = ptr::null_mut();
    let mut err = ptr::null_mut();
    // SAFETY: plain calls on a valid env; each result is used only if its call succeeded.
    unsafe {
        if napi_create_string_utf8(raw, msg.as_ptr().cast(), msg.len(), &mut text) == napi_ok
            && napi_create_error(raw, ptr::null_mut(), text, &mut err) == napi_ok
        {
            napi_throw(raw, err);
        }
    }
}

fn last_error_message(env: Env) -> String {
    let mut info: *const napi_extended_error_info = ptr::null();
    let status = unsafe { napi_get_last_error_info(env.raw(), &mut info) };
    if status != napi_ok || info.is_null() {
        return "unknown error".into();
    }
    // SAFETY: Node returned a valid pointer to its error info for this env.
    let msg = unsafe { (*info).error_message };
    if msg.is_null() {
        return "unknown error".into();
    }
    // SAFETY: a NUL-terminated static string from Node.
    unsafe { CStr::from_ptr(msg) }.to_string_lossy().into_owned()
}

pub fn exception_pending(env: Env) -> bool {
    let mut pending = false;
    let status = unsafe { napi_is_exception_pending(env.raw(), &mut pending) };
    status != napi_ok || pending
}

/// Take (and clear) the pending exception, if any.
pub fn take_exception(env: Env) -> Option<napi_value> {
    let mut value = ptr::null_mut();
    let status = unsafe { napi_get_and_clear_last_exception(env.raw(), &mut value) };
    (status == napi_ok && !value.is_null()).then_some(value)
}

// ---- values ----------------------------------------------------------------------------------

pub fn undefined(env: Env) -> JsResult<napi_value> {
    let mut v = ptr::null_mut();
    napi!(env, napi_get_undefined(&mut v))?;
    Ok(v)
}

pub fn boolean(env: Env, b: bool) -> JsResult<napi_value> {
    let mut v = ptr::null_mut();
    napi!(env, napi_get_boolean(b, &mut v))?;
    Ok(v)
}

pub fn string(env: Env, s: &str) -> JsResult<napi_value> {
    let mut v = ptr::null_mut();
    napi!(env, napi_create_string_utf8(s.as_ptr().cast(), s.len(), &mut v))?;
    Ok(v)
}

pub fn number(env: Env, x: f64) -> JsResult<napi_value> {
    let mut v = ptr::null_mut();
    napi!(env, napi_create_double(x, &mut v))?;
    Ok(v)
}

pub fn type_of(env: Env, v: napi_value) -> JsResult<napi_valuetype> {
    let mut t = napi_undefined;
    napi!(env, napi_typeof(v, &mut t))?;
    Ok(t)
}

/// `String(v)` for a primitive whose stringification runs no user code (number, bigint),
/// at most `max` bytes of it.
pub fn display(env: Env, v: napi_value, max: usize) -> JsResult<String> {
    let mut s = ptr::null_mut();
    napi!(env, napi_coerce_to_string(v, &mut s))?;
    string_value(env, s, max)
}

/// At most the first `max` bytes (cut at a character boundary) of a JS string, as UTF-8.
pub fn string_value(env: Env, s: napi_value, max: usize) -> JsResult<String> {
    let mut buf = vec![0u8; max + 1];
    let mut len = 0usize;
    napi!(
        env,
        napi_get_value_string_utf8(s, buf.as_mut_ptr().cast(), buf.len(), &mut len)
    )?;
    buf.truncate(len.min(max));
    Ok(String::from_utf8_lossy(&buf).into_owned())
}

/// Whether `v` answers yes to one of the `napi_is_*` predicates.
pub fn is(
    env: Env,
    v: napi_value,
    predicate: unsafe extern "C" fn(napi_env, napi_value, *mut bool) -> napi_status,
) -> JsResult<bool> {
    let mut yes = false;
    // SAFETY: `predicate` is one of the `napi_is_*` declarations; the env and value are valid.
    check(env, unsafe { predicate(env.raw(), v, &mut yes) }, "napi_is_*")?;
    Ok(yes)
}

/// A Buffer holding a copy of `bytes` (for small outputs).
pub fn buffer_copy(env: Env, bytes: &[u8]) -> JsResult<napi_value> {
    let mut v = ptr::null_mut();
    let mut data = ptr::null_mut();
    napi!(
        env,
        napi_create_buffer_copy(bytes.len(), bytes.as_ptr().cast(), &mut data, &mut v)
    )?;
    Ok(v)
}

/// A Buffer that takes ownership of `bytes` without copying; its finaliser frees them. Falls
/// back to a copy where the runtime forbids external buffers (V8 sandbox).
pub fn buffer_from_bytes(env: Env, bytes: Bytes) -> JsResult<napi_value> {
    if bytes.is_empty() {
        return buffer_copy(env, &[]);
    }
    let (data, len, token) = bytes.into_raw();
    // The finaliser gets the pointer as `data` and (length, token) through a boxed hint.
    let hint = Box::into_raw(Box::new((len, token)));
    let mut v = ptr::null_mut();
    // SAFETY: `data` points to `len` bytes we own; on success Node owns them and calls
    // `free_bytes(data, hint)` once.
    let status = unsafe {
        napi_create_external_buffer(env.raw(), len, data.cast(), Some(free_bytes), hint.cast(), &mut v)
    };
    // SAFETY (both reclaims below): these statuses come from Node's checks *before* it takes
    // the allocation over (sandbox; the NAPI_PREAMBLE's pending-exception / cannot-run-JS), so
    // the memory is still ours and nobody else will free it. After those checks Node owns the
    // memory even on failure (it calls the finaliser), so any other status leaves it alone.
    let reclaim = || unsafe {
        let (len, token) = *Box::from_raw(hint);
        Bytes::from_raw(data, len, token)
    };
    match status {
        napi_ok => Ok(v),
        napi_no_external_buffers_allowed => buffer_copy(env, &reclaim()),
        napi_pending_exception | napi_cannot_run_js => {
            drop(reclaim());
            check(env, status, "napi_create_external_buffer").map(|_| v)
        }
        _ => check(env, status, "napi_create_external_buffer").map(|_| v),
    }
}

/// Finaliser of [`buffer_from_bytes`].
unsafe extern "C" fn free_bytes(_env: napi_env, data: *mut c_void, hint: *mut c_void) {
    let _ = std::panic::catch_unwind(|| {
        // SAFETY: `data` and the boxed `(len, token)` come from one `Bytes::into_raw` in
        // `buffer_from_bytes`, and Node finalises each buffer once.
        unsafe {
            let (len, token) = *Box::from_raw(hint as *mut (usize, usize));
            drop(Bytes::from_raw(data as *mut u8, len, token));
        }
    });
}

// ---- errors ----------------------------------------------------------------------------------

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ErrorKind {
    Error,
    TypeError,
    RangeError,
}

/// `new Error(msg)` / `TypeError` / `RangeError`, with `err.code = code` when given.
pub fn new_error(env: Env, kind: ErrorKind, code: Option<&str>, msg: &str) -> JsResult<napi_value> {
    let code = match code {
        Some(c) => string(env, c)?,
        None => ptr::null_mut(),
    };
    let msg = string(env, msg)?;
    let mut err = ptr::null_mut();
    match kind {
        ErrorKind::Error => napi!(env, napi_create_error(code, msg, &mut err))?,
        ErrorKind::TypeError => napi!(env, napi_create_type_error(code, msg, &mut err))?,
        ErrorKind::RangeError => napi!(env, napi_create_range_error(code, msg, &mut err))?,
    }
    Ok(err)
}

/// Throw a new error; always `Err(Pending)`, for `return throw(...)` / `?`.
pub fn throw<T>(env: Env, kind: ErrorKind, code: Option<&str>, msg: &str) -> JsResult<T> {
    let err = new_error(env, kind, code, msg)?;
    napi!(env, napi_throw(err))?;
    Err(Pending)
}

pub const ABORT_MESSAGE: &str = "The operation was aborted";

/// `new DOMException('The operation was aborted', 'AbortError')`, built from the global
/// `DOMException`; if that is missing, an `Error` named `AbortError` with code `ABORT_ERR`.
pub fn abort_error(env: Env) -> JsResult<napi_value> {
    let mut global = ptr::null_mut();
    napi!(env, napi_get_global(&mut global))?;
    let mut ctor = ptr::null_mut();
    napi!(
        env,
        napi_get_named_property(global, c"DOMException".as_ptr(), &mut ctor)
    )?;
    if type_of(env, ctor)? == napi_function {
        let args = [string(env, ABORT_MESSAGE)?, string(env, "AbortError")?];
        let mut err = ptr::null_mut();
        napi!(env, napi_new_instance(ctor, args.len(), args.as_ptr(), &mut err))?;
        return Ok(err);
    }
    let err = new_error(env, ErrorKind::Error, Some("ABORT_ERR"), ABORT_MESSAGE)?;
    let name = string(env, "AbortError")?;
    napi!(env, napi_set_named_property(err, c"name".as_ptr(), name))?;
    Ok(err)
}

/// The text of a caught panic.
pub fn panic_message(payload: &(dyn std::any::Any + Send)) -> String {
    if let Some(s) = payload.downcast_ref::<&str>() {
        (*s).to_owned()
    } else if let Some(s) = payload.downcast_ref::<String>() {
        s.clone()
    } else {
        "unknown panic".to_owned()
    }
}
