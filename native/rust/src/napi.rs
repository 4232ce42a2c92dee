//! The Node-API surface this addon uses, declared by hand.
//!
//! Transcribed from Node's own headers (`js_native_api_types.h`, `js_native_api.h`,
//! `node_api_types.h`, `node_api.h`), without `NAPI_EXPERIMENTAL`, so `node_api_basic_env` is
//! plain `napi_env` and `node_api_basic_finalize` is plain `napi_finalize`. Only what the addon
//! calls is declared. This is the one module that talks C; everything else goes through it.
//!
//! C enums (`napi_status`, `napi_valuetype`, `napi_typedarray_type`, `napi_property_attributes`)
//! are declared as `c_int` plus constants rather than Rust enums: a newer Node may hand back a
//! value this file does not list (e.g. a new typed-array kind), and that must not be undefined
//! behaviour.
//!
//! The symbols are not linked against anything: they are resolved when Node `dlopen()`s the
//! addon, from the `node` executable itself.

#![allow(non_camel_case_types, non_upper_case_globals, dead_code)]

use std::ffi::{c_char, c_int, c_void};

// ---- js_native_api_types.h -------------------------------------------------------------------

#[repr(C)]
pub struct napi_env__ {
    _opaque: [u8; 0],
}
#[repr(C)]
pub struct napi_value__ {
    _opaque: [u8; 0],
}
#[repr(C)]
pub struct napi_callback_info__ {
    _opaque: [u8; 0],
}
#[repr(C)]
pub struct napi_deferred__ {
    _opaque: [u8; 0],
}

pub type napi_env = *mut napi_env__;
pub type node_api_basic_env = napi_env;
pub type napi_value = *mut napi_value__;
pub type napi_callback_info = *mut napi_callback_info__;
pub type napi_deferred = *mut napi_deferred__;

pub type napi_property_attributes = c_int;
pub const napi_default: napi_property_attributes = 0;
pub const napi_writable: napi_property_attributes = 1 << 0;
pub const napi_enumerable: napi_property_attributes = 1 << 1;
pub const napi_configurable: napi_property_attributes = 1 << 2;
pub const napi_default_jsproperty: napi_property_attributes =
    napi_writable | napi_enumerable | napi_configurable;

pub type napi_valuetype = c_int;
pub const napi_undefined: napi_valuetype = 0;
pub const napi_null: napi_valuetype = 1;
pub const napi_boolean: napi_valuetype = 2;
pub const napi_number: napi_valuetype = 3;
pub const napi_string: napi_valuetype = 4;
pub const napi_symbol: napi_valuetype = 5;
pub const napi_object: napi_valuetype = 6;
pub const napi_function: napi_valuetype = 7;
pub const napi_external: napi_valuetype = 8;
pub const napi_bigint: napi_valuetype = 9;

pub type napi_typedarray_type = c_int;
pub const napi_int8_array: napi_typedarray_type = 0;
pub const napi_uint8_array: napi_typedarray_type = 1;
pub const napi_uint8_clamped_array: napi_typedarray_type = 2;
pub const napi_int16_array: napi_typedarray_type = 3;
pub const napi_uint16_array: napi_typedarray_type = 4;
pub const napi_int32_array: napi_typedarray_type = 5;
pub const napi_uint32_array: napi_typedarray_type = 6;
pub const napi_float32_array: napi_typedarray_type = 7;
pub const napi_float64_array: napi_typedarray_type = 8;
pub const napi_bigint64_array: napi_typedarray_type = 9;
pub const napi_biguint64_array: napi_typedarray_type = 10;

pub type napi_status = c_int;
pub const napi_ok: napi_status = 0;
pub const napi_invalid_arg: napi_status = 1;
pub const napi_object_expected: napi_status = 2;
pub const napi_string_expected: napi_status = 3;
pub const napi_name_expected: napi_status = 4;
pub const napi_function_expected: napi_status = 5;
pub const napi_number_expected: napi_status = 6;
pub const napi_boolean_expected: napi_status = 7;
pub const napi_array_expected: napi_status = 8;
pub const napi_generic_failure: napi_status = 9;
pub const napi_pending_exception: napi_status = 10;
pub const napi_cancelled: napi_status = 11;
pub const napi_escape_called_twice: napi_status = 12;
pub const napi_handle_scope_mismatch: napi_status = 13;
pub const napi_callback_scope_mismatch: napi_status = 14;
pub const napi_queue_full: napi_status = 15;
pub const napi_closing: napi_status = 16;
pub const napi_bigint_expected: napi_status = 17;
pub const napi_date_expected: napi_status = 18;
pub const napi_arraybuffer_expected: napi_status = 19;
pub const napi_detachable_arraybuffer_expected: napi_status = 20;
pub const napi_would_deadlock: napi_status = 21;
pub const napi_no_external_buffers_allowed: napi_status = 22;
pub const napi_cannot_run_js: napi_status = 23;

pub type napi_callback = Option<unsafe extern "C" fn(env: napi_env, info: napi_callback_info) -> napi_value>;
pub type napi_finalize =
    Option<unsafe extern "C" fn(env: napi_env, finalize_data: *mut c_void, finalize_hint: *mut c_void)>;
pub type node_api_basic_finalize = napi_finalize;

#[repr(C)]
pub struct napi_property_descriptor {
    /// One of `utf8name` or `name` should be NULL.
    pub utf8name: *const c_char,
    pub name: napi_value,
    pub method: napi_callback,
    pub getter: napi_callback,
    pub setter: napi_callback,
    pub value: napi_value,
    pub attributes: napi_property_attributes,
    pub data: *mut c_void,
}

#[repr(C)]
pub struct napi_extended_error_info {
    pub error_message: *const c_char,
    pub engine_reserved: *mut c_void,
    pub engine_error_code: u32,
    pub error_code: napi_status,
}

#[repr(C)]
pub struct napi_type_tag {
    pub lower: u64,
    pub upper: u64,
}

// ---- node_api_types.h ------------------------------------------------------------------------

#[repr(C)]
pub struct napi_async_work__ {
    _opaque: [u8; 0],
}
pub type napi_async_work = *mut napi_async_work__;

pub type napi_cleanup_hook = Option<unsafe extern "C" fn(arg: *mut c_void)>;

#[repr(C)]
pub struct napi_async_cleanup_hook_handle__ {
    _private: [u8; 0],
}
pub type napi_async_cleanup_hook_handle = *mut napi_async_cleanup_hook_handle__;
pub type napi_async_cleanup_hook =
    Option<unsafe extern "C" fn(handle: napi_async_cleanup_hook_handle, arg: *mut c_void)>;

#[repr(C)]
pub struct napi_ref__ {
    _private: [u8; 0],
}
pub type napi_ref = *mut napi_ref__;

#[repr(C)]
pub struct napi_handle_scope__ {
    _private: [u8; 0],
}
pub type napi_handle_scope = *mut napi_handle_scope__;

#[repr(C)]
pub struct napi_async_context__ {
    _private: [u8; 0],
}
pub type napi_async_context = *mut napi_async_context__;

#[repr(C)]
pub struct napi_callback_scope__ {
    _private: [u8; 0],
}
pub type napi_callback_scope = *mut napi_callback_scope__;

pub type napi_async_execute_callback = Option<unsafe extern "C" fn(env: napi_env, data: *mut c_void)>;
pub type napi_async_complete_callback =
    Option<unsafe extern "C" fn(env: napi_env, status: napi_status, data: *mut c_void)>;

// ---- node_api.h ------------------------------------------------------------------------------

/// What `node_api_module_get_api_version_v1` reports: the Node-API version this addon is
/// written against (type tags need 8; detached-buffer checks need 7).
pub const NAPI_VERSION: i32 = 8;

/// `NAPI_AUTO_LENGTH`: the string is NUL-terminated.
pub const NAPI_AUTO_LENGTH: usize = usize::MAX;

// ---- functions (js_native_api.h, then node_api.h) --------------------------------------------

unsafe extern "C" {
    pub fn napi_get_last_error_info(
        env: node_api_basic_env,
        result: *mut *const napi_extended_error_info,
    ) -> napi_status;

    pub fn napi_get_undefined(env: napi_env, result: *mut napi_value) -> napi_status;
    pub fn napi_get_global(env: napi_env, result: *mut napi_value) -> napi_status;
    pub fn napi_get_null(env: napi_env, result: *mut napi_value) -> napi_status;
    pub fn napi_get_boolean(env: napi_env, value: bool, result: *mut napi_value) -> napi_status;

    pub fn napi_create_object(env: napi_env, result: *mut napi_value) -> napi_status;
    pub fn napi_create_double(env: napi_env, value: f64, result: *mut napi_value) -> napi_status;
    pub fn napi_create_string_utf8(
        env: napi_env,
        str: *const c_char,
        length: usize,
        result: *mut napi_value,
    ) -> napi_status;
    pub fn napi_create_error(
        env: napi_env,
        code: napi_value,
        msg: napi_value,
        result: *mut napi_value,
    ) -> napi_status;
    pub fn napi_create_type_error(
        env: napi_env,
        code: napi_value,
        msg: napi_value,
        result: *mut napi_value,
    ) -> napi_status;
    pub fn napi_create_range_error(
        env: napi_env,
        code: napi_value,
        msg: napi_value,
        result: *mut napi_value,
    ) -> napi_status;

    pub fn napi_typeof(env: napi_env, value: napi_value, result: *mut napi_valuetype) -> napi_status;
    pub fn napi_get_value_double(env: napi_env, value: napi_value, result: *mut f64) -> napi_status;
    pub fn napi_get_value_string_utf8(
        env: napi_env,
        value: napi_value,
        buf: *mut c_char,
        bufsize: usize,
        result: *mut usize,
    ) -> napi_status;
    pub fn napi_coerce_to_string(env: napi_env, value: napi_value, result: *mut napi_value) -> napi_status;

    pub fn napi_set_named_property(
        env: napi_env,
        object: napi_value,
        utf8name: *const c_char,
        value: napi_value,
    ) -> napi_status;
    pub fn napi_get_named_property(
        env: napi_env,
        object: napi_value,
        utf8name: *const c_char,
        result: *mut napi_value,
    ) -> napi_status;
    pub fn napi_define_properties(
        env: napi_env,
        object: napi_value,
        property_count: usize,
        properties: *const napi_property_descriptor,
    ) -> napi_status;

    pub fn napi_get_prototype(env: napi_env, object: napi_value, result: *mut napi_value) -> napi_status;
    pub fn napi_create_reference(
        env: napi_env,
        value: napi_value,
        initial_refcount: u32,
        result: *mut napi_ref,
    ) -> napi_status;
    pub fn napi_delete_reference(env: napi_env, reference: napi_ref) -> napi_status;
    pub fn napi_get_reference_value(
        env: napi_env,
        reference: napi_ref,
        result: *mut napi_value,
    ) -> napi_status;
    pub fn napi_open_handle_scope(env: napi_env, result: *mut napi_handle_scope) -> napi_status;
    pub fn napi_close_handle_scope(env: napi_env, scope: napi_handle_scope) -> napi_status;
    pub fn napi_strict_equals(
        env: napi_env,
        lhs: napi_value,
        rhs: napi_value,
        result: *mut bool,
    ) -> napi_status;
    pub fn napi_create_function(
        env: napi_env,
        utf8name: *const c_char,
        length: usize,
        cb: napi_callback,
        data: *mut c_void,
        result: *mut napi_value,
    ) -> napi_status;
    pub fn napi_call_function(
        env: napi_env,
        recv: napi_value,
        func: napi_value,
        argc: usize,
        argv: *const napi_value,
        result: *mut napi_value,
    ) -> napi_status;
    pub fn napi_new_instance(
        env: napi_env,
        constructor: napi_value,
        argc: usize,
        argv: *const napi_value,
        result: *mut napi_value,
    ) -> napi_status;

    pub fn napi_get_cb_info(
        env: napi_env,
        cbinfo: napi_callback_info,
        argc: *mut usize,
        argv: *mut napi_value,
        this_arg: *mut napi_value,
        data: *mut *mut c_void,
    ) -> napi_status;

    pub fn napi_create_external(
        env: napi_env,
        data: *mut c_void,
        finalize_cb: node_api_basic_finalize,
        finalize_hint: *mut c_void,
        result: *mut napi_value,
    ) -> napi_status;
    pub fn napi_get_value_external(env: napi_env, value: napi_value, result: *mut *mut c_void)
    -> napi_status;

    pub fn napi_throw(env: napi_env, error: napi_value) -> napi_status;
    pub fn napi_is_exception_pending(env: napi_env, result: *mut bool) -> napi_status;
    pub fn napi_get_and_clear_last_exception(env: napi_env, result: *mut napi_value) -> napi_status;

    pub fn napi_is_array(env: napi_env, value: napi_value, result: *mut bool) -> napi_status;
    pub fn napi_is_arraybuffer(env: napi_env, value: napi_value, result: *mut bool) -> napi_status;
    pub fn napi_is_dataview(env: napi_env, value: napi_value, result: *mut bool) -> napi_status;
    pub fn napi_is_promise(env: napi_env, value: napi_value, is_promise: *mut bool) -> napi_status;
    pub fn napi_is_typedarray(env: napi_env, value: napi_value, result: *mut bool) -> napi_status;
    pub fn napi_get_typedarray_info(
        env: napi_env,
        typedarray: napi_value,
        type_: *mut napi_typedarray_type,
        length: *mut usize,
        data: *mut *mut c_void,
        arraybuffer: *mut napi_value,
        byte_offset: *mut usize,
    ) -> napi_status;

    pub fn napi_create_promise(
        env: napi_env,
        deferred: *mut napi_deferred,
        promise: *mut napi_value,
    ) -> napi_status;
    pub fn napi_resolve_deferred(
        env: napi_env,
        deferred: napi_deferred,
        resolution: napi_value,
    ) -> napi_status;
    pub fn napi_reject_deferred(env: napi_env, deferred: napi_deferred, rejection: napi_value)
    -> napi_status;

    // NAPI_VERSION >= 6: instance data
    pub fn napi_set_instance_data(
        env: node_api_basic_env,
        data: *mut c_void,
        finalize_cb: napi_finalize,
        finalize_hint: *mut c_void,
    ) -> napi_status;
    pub fn napi_get_instance_data(env: node_api_basic_env, data: *mut *mut c_void) -> napi_status;

    // NAPI_VERSION >= 7
    pub fn napi_is_detached_arraybuffer(env: napi_env, value: napi_value, result: *mut bool) -> napi_status;

    // NAPI_VERSION >= 8
    pub fn napi_type_tag_object(
        env: napi_env,
        value: napi_value,
        type_tag: *const napi_type_tag,
    ) -> napi_status;
    pub fn napi_check_object_type_tag(
        env: napi_env,
        value: napi_value,
        type_tag: *const napi_type_tag,
        result: *mut bool,
    ) -> napi_status;

    // node_api.h: buffers
    pub fn napi_create_external_buffer(
        env: napi_env,
        length: usize,
        data: *mut c_void,
        finalize_cb: node_api_basic_finalize,
        finalize_hint: *mut c_void,
        result: *mut napi_value,
    ) -> napi_status;
    pub fn napi_create_buffer_copy(
        env: napi_env,
        length: usize,
        data: *const c_void,
        result_data: *mut *mut c_void,
        result: *mut napi_value,
    ) -> napi_status;

    // node_api.h: simple async operations
    pub fn napi_create_async_work(
        env: napi_env,
        async_resource: napi_value,
        async_resource_name: napi_value,
        execute: napi_async_execute_callback,
        complete: napi_async_complete_callback,
        data: *mut c_void,
        result: *mut napi_async_work,
    ) -> napi_status;
    pub fn napi_delete_async_work(env: napi_env, work: napi_async_work) -> napi_status;
    pub fn napi_queue_async_work(env: node_api_basic_env, work: napi_async_work) -> napi_status;
    pub fn napi_cancel_async_work(env: node_api_basic_env, work: napi_async_work) -> napi_status;

    // node_api.h: environment life cycle (NAPI_VERSION >= 3)
    pub fn napi_add_env_cleanup_hook(
        env: node_api_basic_env,
        fun: napi_cleanup_hook,
        arg: *mut c_void,
    ) -> napi_status;
    pub fn napi_remove_env_cleanup_hook(
        env: node_api_basic_env,
        fun: napi_cleanup_hook,
        arg: *mut c_void,
    ) -> napi_status;
    // NAPI_VERSION >= 8
    pub fn napi_add_async_cleanup_hook(
        env: node_api_basic_env,
        hook: napi_async_cleanup_hook,
        arg: *mut c_void,
        remove_handle: *mut napi_async_cleanup_hook_handle,
    ) -> napi_status;
    pub fn napi_remove_async_cleanup_hook(remove_handle: napi_async_cleanup_hook_handle) -> napi_status;
    // NAPI_VERSION >= 2
    pub fn napi_get_uv_event_loop(env: node_api_basic_env, loop_: *mut *mut uv_loop_t) -> napi_status;
    // node_api.h: async context and callback scopes (NAPI_VERSION >= 3 for the scopes)
    pub fn napi_async_init(
        env: napi_env,
        async_resource: napi_value,
        async_resource_name: napi_value,
        result: *mut napi_async_context,
    ) -> napi_status;
    pub fn napi_async_destroy(env: napi_env, async_context: napi_async_context) -> napi_status;
    pub fn napi_open_callback_scope(
        env: napi_env,
        resource_object: napi_value,
        context: napi_async_context,
        result: *mut napi_callback_scope,
    ) -> napi_status;
    pub fn napi_close_callback_scope(env: napi_env, scope: napi_callback_scope) -> napi_status;
    pub fn napi_fatal_exception(env: napi_env, err: napi_value) -> napi_status;

}

// ---- uv.h: the few libuv calls used (`crate::inflight`, `crate::loop_signal`) -----------------

#[repr(C)]
pub struct uv_loop_t {
    _private: [u8; 0],
}
/// Any libuv handle (opaque: allocated with `uv_handle_size`).
#[repr(C)]
pub struct uv_handle_t {
    _private: [u8; 0],
}
pub type uv_handle_type = c_int;
/// `UV_ASYNC` and `UV_PREPARE` in uv.h's `uv_handle_type`.
pub const UV_ASYNC: uv_handle_type = 1;
pub const UV_PREPARE: uv_handle_type = 9;
pub type uv_prepare_cb = Option<unsafe extern "C" fn(handle: *mut uv_handle_t)>;
pub type uv_async_cb = Option<unsafe extern "C" fn(handle: *mut uv_handle_t)>;
pub type uv_close_cb = Option<unsafe extern "C" fn(handle: *mut uv_handle_t)>;

unsafe extern "C" {
    pub fn uv_handle_size(kind: uv_handle_type) -> usize;
    pub fn uv_handle_get_data(handle: *const uv_handle_t) -> *mut c_void;
    pub fn uv_handle_set_data(handle: *mut uv_handle_t, data: *mut c_void);
    pub fn uv_prepare_init(loop_: *mut uv_loop_t, prepare: *mut uv_handle_t) -> c_int;
    pub fn uv_prepare_start(prepare: *mut uv_handle_t, cb: uv_prepare_cb) -> c_int;
    pub fn uv_prepare_stop(prepare: *mut uv_handle_t) -> c_int;
    pub fn uv_async_init(loop_: *mut uv_loop_t, async_: *mut uv_handle_t, cb: uv_async_cb) -> c_int;
    /// Thread-safe: any thread may call it on an open async handle.
    pub fn uv_async_send(async_: *mut uv_handle_t) -> c_int;
    pub fn uv_ref(handle: *mut uv_handle_t);
    pub fn uv_unref(handle: *mut uv_handle_t);
    pub fn uv_close(handle: *mut uv_handle_t, close_cb: uv_close_cb);
}
