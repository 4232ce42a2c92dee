//! Calls in flight on libuv's threadpool, per environment, so that an ending environment stops
//! their kernels instead of waiting for them.
//!
//! Node waits for running threadpool work before a worker thread ends (and `process.exit()`
//! joins libuv's threads), and it does so *before* it runs environment cleanup hooks, so a hook
//! would come too late. Two triggers instead, both on the JS thread:
//!
//! * `process.exit()` (main thread or worker): a process `'exit'` listener added at module init;
//! * `worker.terminate()`: a libuv prepare handle, active only while calls are in flight, that
//!   runs before each poll of the loop and notices once Node no longer lets JS run (the loop
//!   Node spins while it waits for the work).
//!
//! The handle is closed from an async cleanup hook, so that Node runs the loop until it has
//! closed, while this code is still loaded.

use crate::js::{Env, JsResult, napi};
use crate::napi::*;
use std::alloc::{Layout, alloc_zeroed, dealloc};
use std::cell::{Cell, RefCell};
use std::collections::HashMap;
use std::ffi::c_void;
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::ptr;
use std::rc::Rc;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

/// The abort flags of one environment's threadpool calls. JS thread only.
pub struct InFlight {
    env: napi_env,
    /// By the flag's address.
    flags: RefCell<HashMap<usize, Arc<AtomicBool>>>,
    /// The prepare handle, created on first use.
    watch: Cell<*mut uv_handle_t>,
    watching: Cell<bool>,
    closed: Cell<bool>,
}

fn key(flag: &Arc<AtomicBool>) -> usize {
    Arc::as_ptr(flag) as usize
}

/// The memory of a prepare handle (its size is libuv's business).
fn handle_layout() -> Option<Layout> {
    // SAFETY: a pure query.
    let size = unsafe { uv_handle_size(UV_PREPARE) };
    Layout::from_size_align(size.max(1), 16).ok()
}

impl InFlight {
    /// Module init: this environment's set, its cleanup hook and its `'exit'` listener.
    pub fn init(env: Env) -> JsResult<Rc<InFlight>> {
        let this = Rc::new(InFlight {
            env: env.raw(),
            flags: RefCell::new(HashMap::new()),
            watch: Cell::new(ptr::null_mut()),
            watching: Cell::new(false),
            closed: Cell::new(false),
        });
        // Borrowed by the hook and the listener: the caller keeps `this` in the instance data,
        // which Node frees after the cleanup hooks, when no JS can run any more.
        let arg = Rc::as_ptr(&this) as *mut c_void;
        napi!(
            env,
            napi_add_async_cleanup_hook(Some(close_hook), arg, ptr::null_mut())
        )?;
        listen_for_exit(env, arg)?;
        Ok(this)
    }

    pub fn add(&self, flag: &Arc<AtomicBool>) {
        let first = {
            let mut flags = self.flags.borrow_mut();
            flags.insert(key(flag), flag.clone());
            flags.len() == 1
        };
        if first {
            self.watch(true);
        }
    }

    pub fn remove(&self, flag: &Arc<AtomicBool>) {
        let empty = {
            let mut flags = self.flags.borrow_mut();
            flags.remove(&key(flag));
            flags.is_empty()
        };
        if empty {
            self.watch(false);
        }
    }

    /// Sets every flag: the running kernels stop within about a millisecond.
    pub fn abort_all(&self) {
        if let Ok(flags) = self.flags.try_borrow() {
            for flag in flags.values() {
                flag.store(true, Ordering::Relaxed);
            }
        }
    }

    /// Best effort: without a loop or a handle, only `process.exit()` is covered.
    fn watch(&self, on: bool) {
        if self.closed.get() || on == self.watching.get() {
            return;
        }
        let mut handle = self.watch.get();
        if handle.is_null() {
            if !on {
                return;
            }
            handle = self.new_handle();
            if handle.is_null() {
                return;
            }
            self.watch.set(handle);
        }
        // SAFETY: an initialised, open prepare handle of this thread's loop.
        let ok = unsafe {
            if on {
                uv_prepare_start(handle, Some(on_prepare)) == 0
            } else {
                uv_prepare_stop(handle);
                false
            }
        };
        self.watching.set(ok);
    }

    fn new_handle(&self) -> *mut uv_handle_t {
        let mut event_loop = ptr::null_mut();
        // SAFETY: a plain query on a live env.
        let status = unsafe { napi_get_uv_event_loop(self.env, &mut event_loop) };
        let Some(layout) = handle_layout() else {
            return ptr::null_mut();
        };
        if status != napi_ok || event_loop.is_null() {
            return ptr::null_mut();
        }
        // SAFETY: a non-zero size; freed in `close` (or here on failure).
        let handle = unsafe { alloc_zeroed(layout) } as *mut uv_handle_t;
        if handle.is_null() {
            return handle;
        }
        // SAFETY: `handle` has room for a prepare handle; the loop is this thread's.
        unsafe {
            if uv_prepare_init(event_loop, handle) != 0 {
                dealloc(handle.cast(), layout);
                return ptr::null_mut();
            }
            uv_handle_set_data(handle, self as *const InFlight as *mut c_void);
            uv_unref(handle); // never keeps the loop alive
        }
        handle
    }

    /// Async cleanup hook: abort, close the handle, then tell Node we are done.
    fn close(&self, done: napi_async_cleanup_hook_handle) {
        self.abort_all();
        self.closed.set(true);
        self.watching.set(false);
        let handle = self.watch.replace(ptr::null_mut());
        // SAFETY: `done` is this hook's handle; `handle` is ours, open, and freed by `closed`.
        unsafe {
            if handle.is_null() {
                napi_remove_async_cleanup_hook(done);
                return;
            }
            uv_handle_set_data(handle, done.cast());
            uv_close(handle, Some(closed));
        }
    }
}

/// False once Node has stopped letting this environment run JS (it is being torn down):
/// Node-API calls that could run JS fail then; comparing `undefined` with itself runs none.
fn can_run_js(env: napi_env) -> bool {
    let mut scope = ptr::null_mut();
    // SAFETY: JS thread (a callback of its loop); the scope is closed below.
    unsafe {
        if napi_open_handle_scope(env, &mut scope) != napi_ok {
            return false;
        }
        let mut undefined = ptr::null_mut();
        let mut same = false;
        let ok = napi_get_undefined(env, &mut undefined) == napi_ok
            && napi_strict_equals(env, undefined, undefined, &mut same) == napi_ok;
        napi_close_handle_scope(env, scope);
        ok
    }
}

unsafe extern "C" fn on_prepare(handle: *mut uv_handle_t) {
    let _ = catch_unwind(AssertUnwindSafe(|| {
        // SAFETY: the data set in `new_handle`: the `InFlight`, alive while its handle is open.
        let this = unsafe { &*(uv_handle_get_data(handle) as *const InFlight) };
        if !can_run_js(this.env) {
            this.abort_all();
        }
    }));
}

unsafe extern "C" fn closed(handle: *mut uv_handle_t) {
    let _ = catch_unwind(AssertUnwindSafe(|| {
        // SAFETY: `close` stored the hook's handle in the data; the memory is from `new_handle`.
        unsafe {
            let done = uv_handle_get_data(handle) as napi_async_cleanup_hook_handle;
            if let Some(layout) = handle_layout() {
                dealloc(handle.cast(), layout);
            }
            napi_remove_async_cleanup_hook(done);
        }
    }));
}

unsafe extern "C" fn close_hook(done: napi_async_cleanup_hook_handle, arg: *mut c_void) {
    let _ = catch_unwind(AssertUnwindSafe(|| {
        // SAFETY: see `InFlight::init`.
        let this = unsafe { &*(arg as *const InFlight) };
        this.close(done);
    }));
}

/// `process.on('exit', …)`: process.exit() runs no cleanup hook on the main thread.
fn listen_for_exit(env: Env, arg: *mut c_void) -> JsResult<()> {
    let mut global = ptr::null_mut();
    napi!(env, napi_get_global(&mut global))?;
    let mut process = ptr::null_mut();
    napi!(
        env,
        napi_get_named_property(global, c"process".as_ptr(), &mut process)
    )?;
    if crate::js::type_of(env, process)? != napi_object {
        return Ok(()); // an embedder without `process`: the hook only
    }
    let mut on = ptr::null_mut();
    napi!(env, napi_get_named_property(process, c"on".as_ptr(), &mut on))?;
    if crate::js::type_of(env, on)? != napi_function {
        return Ok(());
    }
    let name = c"offloopAbortThreadpoolWork";
    let mut listener = ptr::null_mut();
    napi!(
        env,
        napi_create_function(name.as_ptr(), NAPI_AUTO_LENGTH, Some(on_exit), arg, &mut listener)
    )?;
    let args = [crate::js::string(env, "exit")?, listener];
    let mut ignored = ptr::null_mut();
    napi!(
        env,
        napi_call_function(process, on, args.len(), args.as_ptr(), &mut ignored)
    )?;
    Ok(())
}

unsafe extern "C" fn on_exit(env: napi_env, info: napi_callback_info) -> napi_value {
    let _ = catch_unwind(AssertUnwindSafe(|| {
        let mut data = ptr::null_mut();
        // SAFETY: Node calls us on the JS thread; only `data` is read.
        let status = unsafe {
            napi_get_cb_info(
                env,
                info,
                ptr::null_mut(),
                ptr::null_mut(),
                ptr::null_mut(),
                &mut data,
            )
        };
        if status == napi_ok && !data.is_null() {
            // SAFETY: see `InFlight::init`.
            unsafe { &*(data as *const InFlight) }.abort_all();
        }
    }));
    ptr::null_mut()
}
