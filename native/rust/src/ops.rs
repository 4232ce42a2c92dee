//! The exported operations: argument checks (in argument order), the [`Task`] for each kernel,
//! and the sync / async entry points that hand a task to an executor. Each async operation is
//! exported twice, with the same checks and task: at the top level (libuv's threadpool) and on
//! `exports.pool` (the dedicated pool); only the [`Executor`] differs.
//!
//! Sync calls borrow their byte arguments for the duration of the call (no JS can run
//! meanwhile); async calls copy them into the task before queuing.

use crate::args::{self, Accept};
use crate::cancel;
use crate::js::{self, Env, JsResult};
use crate::kernels::{self, Stop, sha256};
use crate::memory::{Bytes, Uninit};
use crate::napi::napi_value;
use crate::pool;
use crate::task::{self, Executor, Task};
use std::sync::atomic::AtomicBool;

/// The arguments of one call (missing ones are `undefined`).
pub type Argv<'a> = &'a [napi_value];

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

fn primes_args(env: Env, argv: Argv) -> JsResult<Primes> {
    let limit = args::integer(env, argv[0], "limit", 0, LIMIT_MAX)? as u32;
    Ok(Primes { limit })
}

pub fn primes_sync(env: Env, argv: Argv) -> JsResult<napi_value> {
    task::run_now(env, primes_args(env, argv)?)
}

fn primes_on(env: Env, argv: Argv, executor: Executor) -> JsResult<napi_value> {
    let task = primes_args(env, argv)?;
    let token = cancel::optional_token(env, argv[1])?;
    task::spawn(env, executor, token, || Ok(task))
}

pub fn primes(env: Env, argv: Argv) -> JsResult<napi_value> {
    primes_on(env, argv, Executor::Threadpool)
}

pub fn pool_primes(env: Env, argv: Argv) -> JsResult<napi_value> {
    primes_on(env, argv, Executor::Pool)
}

// ---- pbkdf2 ----------------------------------------------------------------------------------

/// Generic over the byte storage: borrowed for sync calls, owned copies for async ones.
pub struct Pbkdf2<B> {
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

/// # Safety
/// The returned slices borrow JS memory; see [`args::bytes`].
unsafe fn pbkdf2_args<'a>(env: Env, argv: Argv) -> JsResult<Pbkdf2<&'a [u8]>> {
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

pub fn pbkdf2_sync(env: Env, argv: Argv) -> JsResult<napi_value> {
    // SAFETY: the borrow ends with this call and nothing here runs JS.
    let task = unsafe { pbkdf2_args(env, argv)? };
    task::run_now(env, task)
}

pub fn pbkdf2(env: Env, argv: Argv) -> JsResult<napi_value> {
    pbkdf2_on(env, argv, Executor::Threadpool)
}

pub fn pool_pbkdf2(env: Env, argv: Argv) -> JsResult<napi_value> {
    pbkdf2_on(env, argv, Executor::Pool)
}

fn pbkdf2_on(env: Env, argv: Argv, executor: Executor) -> JsResult<napi_value> {
    // SAFETY: the borrowed bytes are copied below before anything can run JS.
    let t = unsafe { pbkdf2_args(env, argv)? };
    let token = cancel::optional_token(env, argv[4])?;
    task::spawn(env, executor, token, || {
        Ok(Pbkdf2 {
            password: args::copy(env, t.password, "password")?,
            salt: args::copy(env, t.salt, "salt")?,
            iterations: t.iterations,
            keylen: t.keylen,
        })
    })
}

// ---- blur ------------------------------------------------------------------------------------

pub struct Blur<B> {
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

/// # Safety
/// The returned slice borrows JS memory; see [`args::bytes`].
unsafe fn blur_args<'a>(env: Env, argv: Argv) -> JsResult<Blur<&'a [u8]>> {
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

pub fn blur_sync(env: Env, argv: Argv) -> JsResult<napi_value> {
    // SAFETY: the borrow ends with this call and nothing here runs JS.
    let task = unsafe { blur_args(env, argv)? };
    task::run_now(env, task)
}

pub fn blur(env: Env, argv: Argv) -> JsResult<napi_value> {
    blur_on(env, argv, Executor::Threadpool)
}

pub fn pool_blur(env: Env, argv: Argv) -> JsResult<napi_value> {
    blur_on(env, argv, Executor::Pool)
}

fn blur_on(env: Env, argv: Argv, executor: Executor) -> JsResult<napi_value> {
    // SAFETY: the borrowed bytes are copied below before anything can run JS.
    let t = unsafe { blur_args(env, argv)? };
    let token = cancel::optional_token(env, argv[4])?;
    task::spawn(env, executor, token, || {
        Ok(Blur {
            rgba: args::copy(env, t.rgba, "rgba")?,
            width: t.width,
            height: t.height,
            radius: t.radius,
        })
    })
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

fn sleep_args(env: Env, argv: Argv) -> JsResult<Sleep> {
    Ok(Sleep {
        ms: args::integer(env, argv[0], "ms", 0, SLEEP_MAX)? as u32,
    })
}

pub fn sleep_sync(env: Env, argv: Argv) -> JsResult<napi_value> {
    task::run_now(env, sleep_args(env, argv)?)
}

fn sleep_on(env: Env, argv: Argv, executor: Executor) -> JsResult<napi_value> {
    let task = sleep_args(env, argv)?;
    let token = cancel::optional_token(env, argv[1])?;
    task::spawn(env, executor, token, || Ok(task))
}

pub fn sleep(env: Env, argv: Argv) -> JsResult<napi_value> {
    sleep_on(env, argv, Executor::Threadpool)
}

pub fn pool_sleep(env: Env, argv: Argv) -> JsResult<napi_value> {
    sleep_on(env, argv, Executor::Pool)
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

fn noop_on(env: Env, argv: Argv, executor: Executor) -> JsResult<napi_value> {
    let token = cancel::optional_token(env, argv[0])?;
    task::spawn(env, executor, token, || Ok(Noop))
}

pub fn noop(env: Env, argv: Argv) -> JsResult<napi_value> {
    noop_on(env, argv, Executor::Threadpool)
}

pub fn pool_noop(env: Env, argv: Argv) -> JsResult<napi_value> {
    noop_on(env, argv, Executor::Pool)
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

/// `pool.start(threads, nice)`.
pub fn pool_start(env: Env, argv: Argv) -> JsResult<napi_value> {
    let threads = args::integer(env, argv[0], "threads", pool::THREADS_MIN, pool::THREADS_MAX)?;
    let nice = args::integer(env, argv[1], "nice", pool::NICE_MIN, pool::NICE_MAX)?;
    pool::start(env, threads as usize, nice as i32)?;
    js::undefined(env)
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
