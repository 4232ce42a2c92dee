//! The exported operations, like `addon.cc` in the C++ addon: for each kernel a [`Task`] and
//! its [`Args`] (checks in argument order; byte inputs borrowed, then copied for async calls),
//! and the generic entry points the export tables in `lib.rs` instantiate —
//! [`sync`]`::<K>` runs now, [`run_async`]`::<K, W>` hands the task to the executor `W`
//! ([`Threadpool`] or [`Pool`]), as `Sync<Task>` / `Async<Task, Where>` do in C++.
//!
//! Sync calls borrow their byte arguments for the duration of the call (no JS can run
//! meanwhile); async calls copy them into the task before queuing.

use crate::args::{self, Accept};
use crate::cancel::{self, Token};
use crate::js::{self, Env, JsResult};
use crate::kernels::{self, Stop, sha256};
use crate::memory::{Bytes, Uninit};
use crate::napi::{napi_string, napi_undefined, napi_value};
use crate::pool;
use crate::task::{self, Task};
use std::sync::atomic::AtomicBool;

/// The arguments of one call (missing ones are `undefined`).
pub type Argv<'a> = &'a [napi_value];

/// How a kernel's task is made from JS arguments. Implemented by the task with owned inputs.
pub trait Args: Task<Output: Send> + Send + Sized + 'static {
    /// The JS arguments before the optional `token`.
    const ARITY: usize;
    /// The task with its byte inputs borrowed from JS.
    type Borrowed<'a>: Task;
    /// Checks the arguments in order; borrows byte inputs.
    ///
    /// # Safety
    /// The borrowed bytes are valid only while no JS runs (see [`args::bytes`]).
    unsafe fn parse<'a>(env: Env, argv: Argv) -> JsResult<Self::Borrowed<'a>>;
    /// Copies the borrowed inputs to native memory, for another thread.
    fn own(env: Env, task: Self::Borrowed<'_>) -> JsResult<Self>;
}

/// Where an asynchronous export runs its task.
pub trait Where {
    /// A Promise for `task`; `token`, if any, is not cancelled.
    fn queue<T: Args>(env: Env, task: T, token: Option<Token>) -> JsResult<napi_value>;
}

/// libuv's threadpool: one async work item per call (the top-level exports).
pub struct Threadpool;
/// The addon's own pool (`exports.pool`).
pub struct Pool;

impl Where for Threadpool {
    fn queue<T: Args>(env: Env, task: T, token: Option<Token>) -> JsResult<napi_value> {
        task::queue(env, task, token)
    }
}

impl Where for Pool {
    fn queue<T: Args>(env: Env, task: T, token: Option<Token>) -> JsResult<napi_value> {
        pool::submit(env, task, token)
    }
}

/// A `*Sync` export: check, run on the calling thread, return or throw.
pub fn sync<K: Args>(env: Env, argv: Argv) -> JsResult<napi_value> {
    // SAFETY: the borrow ends with this call and nothing here runs JS.
    let task = unsafe { K::parse(env, argv)? };
    task::run_now(env, task)
}

/// An asynchronous export: check (the token too), copy the inputs, queue on `W`. A token that
/// is already cancelled rejects at once, before anything is copied or queued.
pub fn run_async<K: Args, W: Where>(env: Env, argv: Argv) -> JsResult<napi_value> {
    // SAFETY: the borrowed bytes are copied by `own` before anything can run JS.
    let task = unsafe { K::parse(env, argv)? };
    let token = cancel::optional_token(env, argv[K::ARITY])?;
    if token.as_ref().is_some_and(|t| t.is_cancelled()) {
        return task::aborted_at_once(env);
    }
    W::queue(env, K::own(env, task)?, token)
}

// ---- bounds (native/README.md) ---------------------------------------------------------------

const LIMIT_MAX: u64 = u32::MAX as u64;
const ITERATIONS_MAX: u64 = 100_000_000;
const KEYLEN_MAX: u64 = 1024;
const SIDE_MAX: u64 = 65535;
const PIXELS_MAX: u64 = 1 << 26;
const RADIUS_MAX: u64 = 65535;
const SLEEP_MAX: u64 = 60_000;

// ---- primes ----------------------------------------------------------------------------------

pub struct Primes {
    limit: u32,
}

impl Task for Primes {
    type Output = u64;
    const NAME: &'static str = "primes";
    fn run(&self, cancel: &AtomicBool) -> Result<u64, Stop> {
        kernels::primes::count_primes(self.limit, cancel)
    }
    fn to_js(env: Env, count: u64) -> JsResult<napi_value> {
        js::number(env, count as f64)
    }
}

impl Args for Primes {
    const ARITY: usize = 1;
    type Borrowed<'a> = Primes;
    unsafe fn parse<'a>(env: Env, argv: Argv) -> JsResult<Self::Borrowed<'a>> {
        let limit = args::integer(env, argv[0], "limit", 0, LIMIT_MAX)? as u32;
        Ok(Primes { limit })
    }
    fn own(_env: Env, task: Primes) -> JsResult<Primes> {
        Ok(task)
    }
}

// ---- pbkdf2 ----------------------------------------------------------------------------------

/// Generic over the byte storage: borrowed for sync calls, owned copies (the default) for
/// async ones.
pub struct Pbkdf2<B = Bytes> {
    password: B,
    salt: B,
    iterations: u32,
    keylen: usize,
}

impl<B: AsRef<[u8]>> Task for Pbkdf2<B> {
    type Output = Vec<u8>;
    const NAME: &'static str = "pbkdf2";
    fn run(&self, cancel: &AtomicBool) -> Result<Vec<u8>, Stop> {
        let mut key = vec![0u8; self.keylen];
        kernels::pbkdf2::pbkdf2_hmac_sha256(
            sha256::backend(),
            self.password.as_ref(),
            self.salt.as_ref(),
            self.iterations,
            &mut key,
            cancel,
        )?;
        Ok(key)
    }
    fn to_js(env: Env, key: Vec<u8>) -> JsResult<napi_value> {
        js::buffer_copy(env, &key)
    }
}

impl Args for Pbkdf2 {
    const ARITY: usize = 4;
    type Borrowed<'a> = Pbkdf2<&'a [u8]>;
    unsafe fn parse<'a>(env: Env, argv: Argv) -> JsResult<Pbkdf2<&'a [u8]>> {
        // SAFETY: forwarded to our caller.
        let password = unsafe { args::bytes(env, argv[0], "password", Accept::Uint8Array)? };
        let salt = unsafe { args::bytes(env, argv[1], "salt", Accept::Uint8Array)? };
        let iterations = args::integer(env, argv[2], "iterations", 1, ITERATIONS_MAX)? as u32;
        let keylen = args::integer(env, argv[3], "keylen", 1, KEYLEN_MAX)? as usize;
        Ok(Pbkdf2 {
            password,
            salt,
            iterations,
            keylen,
        })
    }
    fn own(env: Env, t: Pbkdf2<&[u8]>) -> JsResult<Pbkdf2> {
        Ok(Pbkdf2 {
            password: args::copy(env, t.password, "password")?,
            salt: args::copy(env, t.salt, "salt")?,
            iterations: t.iterations,
            keylen: t.keylen,
        })
    }
}

// ---- blur ------------------------------------------------------------------------------------

/// Generic over the byte storage, as [`Pbkdf2`].
pub struct Blur<B = Bytes> {
    rgba: B,
    width: usize,
    height: usize,
    radius: usize,
}

impl<B: AsRef<[u8]>> Task for Blur<B> {
    type Output = Bytes;
    const NAME: &'static str = "blur";
    fn run(&self, cancel: &AtomicBool) -> Result<Bytes, Stop> {
        let rgba = self.rgba.as_ref();
        let mut out = Uninit::new(rgba.len()).ok_or(Stop::OutOfMemory {
            what: "blur output",
            bytes: rgba.len(),
        })?;
        kernels::blur::box_blur(
            rgba,
            out.as_uninit_mut(),
            self.width,
            self.height,
            self.radius,
            cancel,
        )?;
        // SAFETY: `box_blur` returned Ok, so it wrote every byte.
        Ok(unsafe { out.assume_init() })
    }
    fn to_js(env: Env, pixels: Bytes) -> JsResult<napi_value> {
        js::buffer_from_bytes(env, pixels)
    }
}

impl Args for Blur {
    const ARITY: usize = 4;
    type Borrowed<'a> = Blur<&'a [u8]>;
    unsafe fn parse<'a>(env: Env, argv: Argv) -> JsResult<Blur<&'a [u8]>> {
        // SAFETY: forwarded to our caller.
        let rgba = unsafe { args::bytes(env, argv[0], "rgba", Accept::Uint8OrClamped)? };
        let width = args::integer(env, argv[1], "width", 1, SIDE_MAX)?;
        let height = args::integer(env, argv[2], "height", 1, SIDE_MAX)?;
        if width * height > PIXELS_MAX {
            let most = PIXELS_MAX / width;
            return args::out_of_range(
                env,
                argv[2],
                "height",
                &format!("at most {most} for width {width} (width·height ≤ {PIXELS_MAX} pixels)"),
            );
        }
        let radius = args::integer(env, argv[3], "radius", 0, RADIUS_MAX)?;
        let expected = width * height * 4;
        if rgba.len() as u64 != expected {
            return args::range_error(
                env,
                &format!(
                    "The \"rgba\" argument must be of length width·height·4 = {expected}. Received length {}",
                    rgba.len()
                ),
            );
        }
        Ok(Blur {
            rgba,
            width: width as usize,
            height: height as usize,
            radius: radius as usize,
        })
    }
    fn own(env: Env, t: Blur<&[u8]>) -> JsResult<Blur> {
        Ok(Blur {
            rgba: args::copy(env, t.rgba, "rgba")?,
            width: t.width,
            height: t.height,
            radius: t.radius,
        })
    }
}

// ---- sleep / noop ----------------------------------------------------------------------------

pub struct Sleep {
    ms: u32,
}

impl Task for Sleep {
    type Output = ();
    const NAME: &'static str = "sleep";
    fn run(&self, cancel: &AtomicBool) -> Result<(), Stop> {
        kernels::sleep::sleep(self.ms, cancel)
    }
    fn to_js(env: Env, _: ()) -> JsResult<napi_value> {
        js::undefined(env)
    }
}

impl Args for Sleep {
    const ARITY: usize = 1;
    type Borrowed<'a> = Sleep;
    unsafe fn parse<'a>(env: Env, argv: Argv) -> JsResult<Self::Borrowed<'a>> {
        Ok(Sleep {
            ms: args::integer(env, argv[0], "ms", 0, SLEEP_MAX)? as u32,
        })
    }
    fn own(_env: Env, task: Sleep) -> JsResult<Sleep> {
        Ok(task)
    }
}

/// An async work item with an empty body: measures dispatch cost.
pub struct Noop;

impl Task for Noop {
    type Output = ();
    const NAME: &'static str = "noop";
    fn run(&self, _cancel: &AtomicBool) -> Result<(), Stop> {
        Ok(())
    }
    fn to_js(env: Env, _: ()) -> JsResult<napi_value> {
        js::undefined(env)
    }
}

impl Args for Noop {
    const ARITY: usize = 0;
    type Borrowed<'a> = Noop;
    unsafe fn parse<'a>(_env: Env, _argv: Argv) -> JsResult<Self::Borrowed<'a>> {
        Ok(Noop)
    }
    fn own(_env: Env, task: Noop) -> JsResult<Noop> {
        Ok(task)
    }
}

// ---- cancellation ----------------------------------------------------------------------------

pub fn create_cancel_token(env: Env, _argv: Argv) -> JsResult<napi_value> {
    cancel::create_token(env)
}

pub fn cancel(env: Env, argv: Argv) -> JsResult<napi_value> {
    cancel::required_token(env, argv[0])?.cancel(env);
    js::undefined(env)
}

// ---- the dedicated pool ----------------------------------------------------------------------

/// `pool.start(threads, nice, policy?)`.
pub fn pool_start(env: Env, argv: Argv) -> JsResult<napi_value> {
    let threads = args::integer(env, argv[0], "threads", pool::THREADS_MIN, pool::THREADS_MAX)?;
    let nice = args::integer(env, argv[1], "nice", pool::NICE_MIN, pool::NICE_MAX)?;
    let policy = pool_policy(env, argv[2])?;
    pool::start(env, threads as usize, nice as i32, policy)?;
    js::undefined(env)
}

/// The optional `policy` argument: `undefined` is the default; else one of the names.
fn pool_policy(env: Env, v: napi_value) -> JsResult<pool::Policy> {
    match js::type_of(env, v)? {
        napi_undefined => Ok(pool::Policy::DEFAULT),
        napi_string => match pool::Policy::from_name(&js::string_value(env, v, 16)?) {
            Some(policy) => Ok(policy),
            None => args::out_of_range(env, v, "policy", "one of \"idle\", \"batch\", \"normal\""),
        },
        _ => {
            let got = args::describe(env, v)?;
            args::type_error(
                env,
                &format!("The \"policy\" argument must be of type string. Received {got}"),
            )
        }
    }
}

/// `setThreadPolicy(policy, nice)`: the calling thread's policy and nice; true if applied.
pub fn set_thread_policy(env: Env, argv: Argv) -> JsResult<napi_value> {
    let policy = pool_policy(env, argv[0])?;
    let nice = args::integer(env, argv[1], "nice", pool::NICE_MIN, pool::NICE_MAX)?;
    js::boolean(env, pool::set_thread_policy(nice as i32, policy))
}

/// `pool.stop()`.
pub fn pool_stop(env: Env, _argv: Argv) -> JsResult<napi_value> {
    pool::stop(env)?;
    js::undefined(env)
}

/// `pool.stats()`.
pub fn pool_stats(env: Env, _argv: Argv) -> JsResult<napi_value> {
    pool::stats(env)
}
