//! Argument validation. Every failure throws (and returns `Err(Pending)`):
//!
//! * wrong type → `TypeError` with `code: 'ERR_INVALID_ARG_TYPE'`;
//! * out of bounds (including NaN, ±Infinity, fractions) → `RangeError` with
//!   `code: 'ERR_OUT_OF_RANGE'`;
//!
//! and every message starts with `The "<name>" argument`. Callers check arguments in order and
//! stop at the first failure.

use crate::env;
use crate::js::{self, Env, ErrorKind, JsResult, napi};
use crate::memory::Bytes;
use crate::napi::*;
use std::ptr;

pub const ERR_INVALID_ARG_TYPE: &str = "ERR_INVALID_ARG_TYPE";
pub const ERR_OUT_OF_RANGE: &str = "ERR_OUT_OF_RANGE";

pub fn type_error<T>(env: Env, msg: &str) -> JsResult<T> {
    js::throw(env, ErrorKind::TypeError, Some(ERR_INVALID_ARG_TYPE), msg)
}

pub fn range_error<T>(env: Env, msg: &str) -> JsResult<T> {
    js::throw(env, ErrorKind::RangeError, Some(ERR_OUT_OF_RANGE), msg)
}

/// How a value is shown after "Received", in the style of Node's own argument errors (and of
/// the TS layer's `describe` in src/errors.ts), without running any user code: no getters, no
/// `toString`, no Proxy traps.
pub fn describe(env: Env, v: napi_value) -> JsResult<String> {
    Ok(match js::type_of(env, v)? {
        napi_undefined => "undefined".into(),
        napi_null => "null".into(),
        napi_number => number_shown(env, v)?,
        napi_bigint => format!("type bigint ({}n)", js::display(env, v, 64)?),
        napi_string => format!("type string ({})", quote(&js::string_value(env, v, 4 * 29)?)),
        napi_boolean => "type boolean".into(),
        napi_symbol => "type symbol".into(),
        napi_function => "function".into(),
        napi_external => "an external".into(),
        _ => match object_class(env, v)? {
            Some(name) => format!("an instance of {name}"),
            None => "type object".into(),
        },
    })
}

/// A number as `String(n)` shows it, except `-0`.
fn number_shown(env: Env, v: napi_value) -> JsResult<String> {
    let mut x = 0.0;
    napi!(env, napi_get_value_double(v, &mut x))?;
    if x == 0.0 && x.is_sign_negative() {
        return Ok("-0".into());
    }
    js::display(env, v, 64)
}

/// `JSON.stringify` of the string, cut to 25 characters + "..." beyond 28.
fn quote(s: &str) -> String {
    let shown: String = if s.chars().count() > 28 {
        s.chars().take(25).chain("...".chars()).collect()
    } else {
        s.to_owned()
    };
    let mut out = String::from("\"");
    for c in shown.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            c if (c as u32) < 0x20 => out.push_str(&format!("\\u{:04x}", c as u32)),
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

/// The built-in class of an object that napi can recognise without touching its properties.
fn object_class(env: Env, v: napi_value) -> JsResult<Option<&'static str>> {
    if let Some(name) = typed_array_name(env, v)? {
        return Ok(Some(name));
    }
    Ok(if js::is(env, v, napi_is_array)? {
        Some("Array")
    } else if js::is(env, v, napi_is_arraybuffer)? {
        Some("ArrayBuffer")
    } else if js::is(env, v, napi_is_dataview)? {
        Some("DataView")
    } else if js::is(env, v, napi_is_promise)? {
        Some("Promise")
    } else {
        None
    })
}

fn typed_array_name(env: Env, v: napi_value) -> JsResult<Option<&'static str>> {
    if !js::is(env, v, napi_is_typedarray)? {
        return Ok(None);
    }
    let info = typed_array_info(env, v)?;
    Ok(Some(match info.kind {
        napi_int8_array => "Int8Array",
        napi_uint8_array => "Uint8Array",
        napi_uint8_clamped_array => "Uint8ClampedArray",
        napi_int16_array => "Int16Array",
        napi_uint16_array => "Uint16Array",
        napi_int32_array => "Int32Array",
        napi_uint32_array => "Uint32Array",
        napi_float32_array => "Float32Array",
        napi_float64_array => "Float64Array",
        napi_bigint64_array => "BigInt64Array",
        napi_biguint64_array => "BigUint64Array",
        _ => "TypedArray",
    }))
}

/// A number argument (`typeof v === 'number'`), not yet range-checked.
pub fn number(env: Env, v: napi_value, name: &str) -> JsResult<f64> {
    if js::type_of(env, v)? != napi_number {
        let got = describe(env, v)?;
        return type_error(
            env,
            &format!("The \"{name}\" argument must be of type number. Received {got}"),
        );
    }
    let mut x = 0.0;
    napi!(env, napi_get_value_double(v, &mut x))?;
    Ok(x)
}

/// An integer number argument in `min ..= max`; NaN, ±Infinity and fractions are out of range.
pub fn integer(env: Env, v: napi_value, name: &str, min: u64, max: u64) -> JsResult<u64> {
    let x = number(env, v, name)?;
    if x.is_finite() && x.trunc() == x && x >= min as f64 && x <= max as f64 {
        // Exact: an integral f64 no larger than 2^32 converts without rounding.
        return Ok(x as u64);
    }
    out_of_range(env, v, name, &format!("an integer from {min} to {max}"))
}

/// `RangeError`: `The "<name>" argument must be <expected>. Received <v>`.
pub fn out_of_range<T>(env: Env, v: napi_value, name: &str, expected: &str) -> JsResult<T> {
    let got = describe(env, v)?;
    range_error(
        env,
        &format!("The \"{name}\" argument must be {expected}. Received {got}"),
    )
}

pub struct TypedArrayInfo {
    pub kind: napi_typedarray_type,
    pub length: usize,
    pub data: *mut u8,
    pub arraybuffer: napi_value,
}

fn typed_array_info(env: Env, v: napi_value) -> JsResult<TypedArrayInfo> {
    let mut kind = napi_uint8_array;
    let mut length = 0usize;
    let mut data = ptr::null_mut();
    let mut arraybuffer = ptr::null_mut();
    let mut offset = 0usize;
    napi!(
        env,
        napi_get_typedarray_info(
            v,
            &mut kind,
            &mut length,
            &mut data,
            &mut arraybuffer,
            &mut offset
        )
    )?;
    Ok(TypedArrayInfo {
        kind,
        length,
        data: data.cast(),
        arraybuffer,
    })
}

/// Which byte views an argument accepts.
#[derive(Clone, Copy, PartialEq, Eq)]
pub enum Accept {
    /// `Uint8Array` (a `Buffer` is one).
    Uint8Array,
    /// `Uint8Array` or `Uint8ClampedArray`.
    Uint8OrClamped,
}

/// A byte-array argument, borrowed.
///
/// # Safety
/// The slice points into a JS-owned ArrayBuffer. It is valid only while no JS runs (JS could
/// detach, transfer or resize the buffer), i.e. within the current callback, before anything
/// that might call back into JS; callers copy it before letting go.
pub unsafe fn bytes<'a>(env: Env, v: napi_value, name: &str, accept: Accept) -> JsResult<&'a [u8]> {
    let expected = match accept {
        Accept::Uint8Array => "an instance of Uint8Array",
        Accept::Uint8OrClamped => "an instance of Uint8Array or Uint8ClampedArray",
    };
    let is = js::is(env, v, napi_is_typedarray)?;
    let info = if is { Some(typed_array_info(env, v)?) } else { None };
    let ok = match &info {
        Some(i) => {
            i.kind == napi_uint8_array
                || (accept == Accept::Uint8OrClamped && i.kind == napi_uint8_clamped_array)
        }
        None => false,
    };
    let Some(info) = info.filter(|_| ok) else {
        let got = describe(env, v)?;
        return type_error(
            env,
            &format!("The \"{name}\" argument must be {expected}. Received {got}"),
        );
    };
    let mut detached = false;
    napi!(env, napi_is_detached_arraybuffer(info.arraybuffer, &mut detached))?;
    if detached || (info.length == 0 && out_of_bounds(env, v)?) {
        let got = describe(env, v)?;
        return type_error(
            env,
            &format!(
                "The \"{name}\" argument must be within its ArrayBuffer (it was detached, or resized \
                 below the view). Received {got}"
            ),
        );
    }
    if info.length == 0 || info.data.is_null() {
        return Ok(&[]);
    }
    // SAFETY: Node reports `length` bytes at `data` (already offset into the buffer), valid
    // until JS next runs (see the function's contract).
    Ok(unsafe { std::slice::from_raw_parts(info.data, info.length) })
}

/// Whether `view` (reported empty) lies outside its ArrayBuffer: V8 reports a view as empty once
/// its resizable buffer has shrunk below it. The built-in `at`, captured when the addon loaded
/// (so no user code runs), throws on such a view and returns `undefined` on a truly empty one.
fn out_of_bounds(env: Env, view: napi_value) -> JsResult<bool> {
    let at = env::state(env)?.typed_array_at(env)?;
    let index = js::number(env, 0.0)?;
    let mut ignored = ptr::null_mut();
    // SAFETY: a built-in function called on a live value with one argument.
    let status = unsafe { napi_call_function(env.raw(), view, at, 1, &index, &mut ignored) };
    if status == napi_pending_exception {
        let _ = js::take_exception(env); // the TypeError `at` threw: out of bounds
        return Ok(true);
    }
    js::check(env, status, "napi_call_function")?;
    Ok(false)
}

/// A native copy of an argument's bytes, or a thrown `Error` if memory runs out.
pub fn copy(env: Env, bytes: &[u8], name: &str) -> JsResult<Bytes> {
    match Bytes::copy_of(bytes) {
        Some(copy) => Ok(copy),
        None => js::throw(
            env,
            ErrorKind::Error,
            None,
            &format!(
                "offloop_rust: out of memory copying the \"{name}\" argument ({} bytes)",
                bytes.len()
            ),
        ),
    }
}
