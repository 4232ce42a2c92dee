//! A wake-up of the JS thread that any thread may send: the dedicated pool's way back
//! (`crate::pool`), as `loop_signal.h` is the C++ addon's.
//!
//! It does what a `napi_threadsafe_function` did for the pool: a callback on the JS thread, inside
//! a callback scope (so the promises it settles run their continuations before the loop goes on),
//! the loop kept alive only while asked. It is a libuv async handle of our own because Node's
//! `napi_call_threadsafe_function` signals the loop while holding the function's mutex, which the
//! woken JS thread takes first thing: a JS thread woken onto the same core preempts the pool
//! thread inside that lock and blocks on it, four context switches per call instead of two
//! (native/README.md, "Dispatch"). The pool sends after releasing its own lock.

use crate::js::{Env, JsResult, napi};
use crate::napi::*;
use std::alloc::{Layout, alloc_zeroed, dealloc};
use std::cell::Cell;
use std::ffi::c_void;
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::ptr;

/// What runs on the JS thread: `(env, owner)`.
pub type Callback = unsafe fn(env: napi_env, owner: *mut c_void);

/// The JS thread's side. Lives in its owner, which must stay put and alive until `on_closed`.
pub struct LoopSignal {
    handle: *mut uv_handle_t,
    env: napi_env,
    /// The async_hooks resource the callbacks run in.
    context: napi_async_context,
    resource: napi_ref,
    on_signal: Callback,
    on_closed: Cell<Option<Callback>>,
    owner: Cell<*mut c_void>,
}

/// What the other threads hold: `send()` only.
pub struct Sender(*mut uv_handle_t);
// SAFETY: `uv_async_send` may be called from any thread on an open handle; the owner closes it
// only after every thread that holds a `Sender` has been joined.
unsafe impl Send for Sender {}
unsafe impl Sync for Sender {}

impl Sender {
    /// The callback runs once on the JS thread, soon (sends coalesce).
    pub fn send(&self) {
        // SAFETY: open (see the `Send` impl).
        unsafe { uv_async_send(self.0) };
    }
}

/// The memory of an async handle (its size is libuv's business).
fn handle_layout() -> Option<Layout> {
    // SAFETY: a pure query.
    let size = unsafe { uv_handle_size(UV_ASYNC) };
    Layout::from_size_align(size.max(1), 16).ok()
}

impl LoopSignal {
    /// JS thread: an open signal, not keeping the loop alive. Call [`LoopSignal::bind`] once it
    /// sits where it will stay, before anything else.
    pub fn open(env: Env, name: &str, on_signal: Callback) -> JsResult<LoopSignal> {
        let mut event_loop = ptr::null_mut();
        napi!(env, napi_get_uv_event_loop(&mut event_loop))?;
        let mut resource = ptr::null_mut();
        napi!(env, napi_create_object(&mut resource))?;
        let name = crate::js::string(env, name)?;
        let mut reference = ptr::null_mut();
        napi!(env, napi_create_reference(resource, 1, &mut reference))?;
        let mut context = ptr::null_mut();
        let layout = handle_layout();
        // SAFETY: a non-zero size; freed in `closed` (or below on failure).
        let handle = layout.map_or(ptr::null_mut(), |l| unsafe { alloc_zeroed(l) }) as *mut uv_handle_t;
        // SAFETY: live env and values; `handle` has room for an async handle of this loop.
        let opened = unsafe {
            !handle.is_null()
                && napi_async_init(env.raw(), resource, name, &mut context) == napi_ok
                && uv_async_init(event_loop, handle, Some(on_async)) == 0
        };
        if !opened {
            // SAFETY: undoing what succeeded above.
            unsafe {
                if !context.is_null() {
                    napi_async_destroy(env.raw(), context);
                }
                napi_delete_reference(env.raw(), reference);
                if let (false, Some(l)) = (handle.is_null(), layout) {
                    dealloc(handle.cast(), l);
                }
            }
            let message = "offloop_rust: pool: could not open its loop signal";
            return crate::js::throw(env, crate::js::ErrorKind::Error, None, message);
        }
        // SAFETY: open handle.
        unsafe { uv_unref(handle) };
        Ok(LoopSignal {
            handle,
            env: env.raw(),
            context,
            resource: reference,
            on_signal,
            on_closed: Cell::new(None),
            owner: Cell::new(ptr::null_mut()),
        })
    }

    /// JS thread: points the handle at this signal, now at its final address, and names the
    /// `owner` the callbacks get.
    pub fn bind(&self, owner: *mut c_void) {
        self.owner.set(owner);
        // SAFETY: open handle; `self` stays put until `on_closed` (see the type's docs).
        unsafe { uv_handle_set_data(self.handle, self as *const LoopSignal as *mut c_void) };
    }

    pub fn sender(&self) -> Sender {
        Sender(self.handle)
    }

    /// JS thread: whether the handle keeps the event loop alive.
    pub fn keep_alive(&self, on: bool) {
        // SAFETY: open handle (the owner stops calling this once it has closed it).
        unsafe {
            if on {
                uv_ref(self.handle);
            } else {
                uv_unref(self.handle);
            }
        }
    }

    /// JS thread, once: no callback runs after this. `on_closed(env, owner)` runs when libuv has
    /// let go of the handle, on a later turn of the loop; it may free the memory `self` lives in.
    pub fn close(&self, on_closed: Callback) {
        self.on_closed.set(Some(on_closed));
        // SAFETY: JS thread; our context, reference and open handle.
        unsafe {
            napi_async_destroy(self.env, self.context);
            napi_delete_reference(self.env, self.resource);
            uv_close(self.handle, Some(closed));
        }
    }
}

unsafe extern "C" fn on_async(handle: *mut uv_handle_t) {
    let _ = catch_unwind(AssertUnwindSafe(|| {
        // SAFETY: bound in `bind`; open, so its owner is alive.
        let this = unsafe { &*(uv_handle_get_data(handle) as *const LoopSignal) };
        let env = this.env;
        // SAFETY: JS thread (a callback of its loop); both scopes are closed below.
        unsafe {
            let mut handles = ptr::null_mut();
            if napi_open_handle_scope(env, &mut handles) != napi_ok {
                return;
            }
            let mut resource = ptr::null_mut();
            let mut scope = ptr::null_mut();
            if napi_get_reference_value(env, this.resource, &mut resource) != napi_ok
                || napi_open_callback_scope(env, resource, this.context, &mut scope) != napi_ok
            {
                // Still drain: a batch left undrained would never be signalled again. (Without a
                // handle scope, above, nothing can be settled at all: Node is past running JS.)
                scope = ptr::null_mut();
            }
            (this.on_signal)(env, this.owner.get());
            // As for a threadsafe function's callback: what it threw is an uncaught exception.
            let mut thrown = false;
            let mut error = ptr::null_mut();
            if napi_is_exception_pending(env, &mut thrown) == napi_ok
                && thrown
                && napi_get_and_clear_last_exception(env, &mut error) == napi_ok
            {
                napi_fatal_exception(env, error);
            }
            if !scope.is_null() {
                napi_close_callback_scope(env, scope); // runs the queued microtasks
            }
            napi_close_handle_scope(env, handles);
        }
    }));
}

unsafe extern "C" fn closed(handle: *mut uv_handle_t) {
    let _ = catch_unwind(AssertUnwindSafe(|| {
        // SAFETY: as in `on_async`; read before `on_closed` may free the signal.
        let (env, owner, on_closed) = unsafe {
            let this = &*(uv_handle_get_data(handle) as *const LoopSignal);
            (this.env, this.owner.get(), this.on_closed.get())
        };
        if let Some(layout) = handle_layout() {
            // SAFETY: allocated in `open` with this layout; libuv is done with it.
            unsafe { dealloc(handle.cast(), layout) };
        }
        if let Some(on_closed) = on_closed {
            // SAFETY: the owner's callback, once.
            unsafe { on_closed(env, owner) };
        }
    }));
}
