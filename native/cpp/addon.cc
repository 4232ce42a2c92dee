// offloop_cpp: module init and the exports table. Each export validates its arguments (in
// argument order), builds a task with copied (async) or borrowed (sync) inputs and hands it
// to an executor from task.h.
#include <napi.h>

#include <array>
#include <cstdlib>
#include <memory>
#include <new>

#include "args.h"
#include "cancel.h"
#include "env.h"
#include "kernels.h"
#include "memory.h"
#include "pool.h"
#include "sha256.h"
#include "task.h"

namespace offloop {
namespace binding {
namespace {

using Mode = Bytes::Mode;

// ---- outputs -----------------------------------------------------------------------------

// Frees a handed-over output once JS has collected its Buffer.
void FinalizeOutput(napi_env env, void* data, void* hint) {
  const auto size = static_cast<int64_t>(reinterpret_cast<uintptr_t>(hint));
  int64_t ignored = 0;
  napi_adjust_external_memory(env, -size, &ignored);
  FreeBytes(static_cast<uint8_t*>(data));
}

// Hands a native allocation to JS as a Buffer without copying. The size is reported to V8
// as external memory so that the garbage collector runs (and frees these) in step with
// allocation. Where external buffers are not allowed, the bytes are copied instead.
Napi::Value HandOver(Napi::Env env, BytesPtr data, size_t size) {
  napi_value value;
  napi_status status =
      napi_create_external_buffer(env, size, data.get(), FinalizeOutput,
                                  reinterpret_cast<void*>(static_cast<uintptr_t>(size)), &value);
  if (status == napi_ok) {
    data.release();
    int64_t ignored = 0;
    napi_adjust_external_memory(env, static_cast<int64_t>(size), &ignored);
    return Napi::Value(env, value);
  }
  return Napi::Buffer<uint8_t>::Copy(env, data.get(), size);
}

// ---- tasks -----------------------------------------------------------------------------
// Each task (see task.h): Parse(info) validates arguments 0..kArity-1 in order and borrows
// byte inputs; Own(env) copies them to native memory before the task is queued.

struct PrimesTask {
  static constexpr const char* kName = "offloop:primes";
  static constexpr const char* kWhat = "primes";
  uint32_t limit = 0;
  uint64_t count = 0;

  static constexpr size_t kArity = 1;
  static PrimesTask Parse(const Napi::CallbackInfo& info) {
    PrimesTask t;
    t.limit = static_cast<uint32_t>(GetInteger(info, 0, "limit", 0, kPrimesMaxLimit));
    return t;
  }
  void Own(Napi::Env) {}
  Status Run(CancelFlag cancel) { return CountPrimes(limit, cancel, &count); }
  Napi::Value ToJs(Napi::Env env) { return Napi::Number::New(env, static_cast<double>(count)); }
};

struct Pbkdf2Task {
  static constexpr const char* kName = "offloop:pbkdf2";
  static constexpr const char* kWhat = "pbkdf2";
  Bytes password;
  Bytes salt;
  uint32_t iterations = 0;
  size_t keylen = 0;
  std::array<uint8_t, kPbkdf2MaxKeylen> key{};

  static constexpr size_t kArity = 4;
  static Pbkdf2Task Parse(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    const ByteView password = GetBytes(info, 0, "password", false);
    const ByteView salt = GetBytes(info, 1, "salt", false);
    Pbkdf2Task t;
    t.iterations = static_cast<uint32_t>(
        GetInteger(info, 2, "iterations", kPbkdf2MinIterations, kPbkdf2MaxIterations));
    t.keylen =
        static_cast<size_t>(GetInteger(info, 3, "keylen", kPbkdf2MinKeylen, kPbkdf2MaxKeylen));
    t.password = Bytes(env, password, Mode::kBorrow);
    t.salt = Bytes(env, salt, Mode::kBorrow);
    return t;
  }
  void Own(Napi::Env env) {
    password.Own(env);
    salt.Own(env);
  }
  Status Run(CancelFlag cancel) {
    return Pbkdf2Sha256(password.data(), password.size(), salt.data(), salt.size(), iterations,
                        key.data(), keylen, cancel);
  }
  Napi::Value ToJs(Napi::Env env) {
    return Napi::Buffer<uint8_t>::Copy(env, key.data(), keylen);
  }
};

struct BlurTask {
  static constexpr const char* kName = "offloop:blur";
  static constexpr const char* kWhat = "blur";
  Bytes rgba;
  uint32_t width = 0, height = 0, radius = 0;
  BytesPtr out;

  static constexpr size_t kArity = 4;
  static BlurTask Parse(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    const ByteView rgba = GetBytes(info, 0, "rgba", true);
    BlurTask t;
    t.width = static_cast<uint32_t>(GetInteger(info, 1, "width", kBlurMinSide, kBlurMaxSide));
    t.height = static_cast<uint32_t>(GetInteger(info, 2, "height", kBlurMinSide, kBlurMaxSide));
    const uint64_t pixels = static_cast<uint64_t>(t.width) * t.height;
    if (pixels > kBlurMaxPixels) {
      ThrowOutOfRange(info[2], "height",
                      "at most " + std::to_string(kBlurMaxPixels / t.width) + " for width " +
                          std::to_string(t.width) + " (width\u00b7height \u2264 " +
                          std::to_string(kBlurMaxPixels) + " pixels)");
    }
    t.radius = static_cast<uint32_t>(GetInteger(info, 3, "radius", 0, kBlurMaxRadius));
    const uint64_t expected = pixels * 4;
    if (rgba.length != expected) {
      ThrowRangeError(env, ArgPrefix("rgba") + " must be of length width\u00b7height\u00b74 = " +
                               std::to_string(expected) + ". Received length " +
                               std::to_string(rgba.length));
    }
    t.rgba = Bytes(env, rgba, Mode::kBorrow);
    return t;
  }
  void Own(Napi::Env env) { rgba.Own(env); }
  Status Run(CancelFlag cancel) {
    out.reset(AllocateBytes(rgba.size()));
    if (!out) throw std::bad_alloc();
    return BoxBlurRgba(rgba.data(), out.get(), width, height, radius, cancel);
  }
  Napi::Value ToJs(Napi::Env env) { return HandOver(env, std::move(out), rgba.size()); }
};

struct SleepTask {
  static constexpr const char* kName = "offloop:sleep";
  static constexpr const char* kWhat = "sleep";
  uint32_t ms = 0;

  static constexpr size_t kArity = 1;
  static SleepTask Parse(const Napi::CallbackInfo& info) {
    SleepTask t;
    t.ms = static_cast<uint32_t>(GetInteger(info, 0, "ms", 0, kSleepMaxMs));
    return t;
  }
  void Own(Napi::Env) {}
  Status Run(CancelFlag cancel) { return SleepMs(ms, cancel); }
  Napi::Value ToJs(Napi::Env env) { return env.Undefined(); }
};

struct NoopTask {
  static constexpr const char* kName = "offloop:noop";
  static constexpr const char* kWhat = "noop";
  static constexpr size_t kArity = 0;
  static NoopTask Parse(const Napi::CallbackInfo&) { return NoopTask(); }
  void Own(Napi::Env) {}
  Status Run(CancelFlag) { return Status::kOk; }
  Napi::Value ToJs(Napi::Env env) { return env.Undefined(); }
};

// ---- export wrappers -------------------------------------------------------------------

template <class Task>
Napi::Value Sync(const Napi::CallbackInfo& info) {
  Task task = Task::Parse(info);  // inputs stay borrowed: no JS runs until we return
  return RunNow(info.Env(), task);
}

// Where an asynchronous export runs its task.
enum class Where { kThreadpool, kPool };

template <class Task, Where where>
Napi::Value Async(const Napi::CallbackInfo& info) {
  Task task = Task::Parse(info);
  // The token comes right after the task's own arguments.
  CancelHandle token = GetCancelToken(info, Task::kArity, TokenUse::kCall);
  if (token && token->cancelled.load(std::memory_order_relaxed)) {
    return RejectedWithAbort(info.Env());  // queue nothing, copy nothing
  }
  task.Own(info.Env());
  if constexpr (where == Where::kPool) {
    return QueueOnPool(info.Env(), std::move(task), std::move(token));
  } else {
    return QueueOnThreadpool(info.Env(), std::move(task), std::move(token));
  }
}

Napi::Value CreateCancelTokenExport(const Napi::CallbackInfo& info) {
  return CreateCancelToken(info.Env());
}

Napi::Value CancelExport(const Napi::CallbackInfo& info) {
  CancelToken(GetCancelToken(info, 0, TokenUse::kCancel));
  return info.Env().Undefined();
}

struct ExportEntry {
  const char* name;
  Napi::Value (*fn)(const Napi::CallbackInfo&);
};

const ExportEntry kExports[] = {
    {"primesSync", Sync<PrimesTask>},
    {"pbkdf2Sync", Sync<Pbkdf2Task>},
    {"blurSync", Sync<BlurTask>},
    {"sleepSync", Sync<SleepTask>},
    {"primes", Async<PrimesTask, Where::kThreadpool>},
    {"pbkdf2", Async<Pbkdf2Task, Where::kThreadpool>},
    {"blur", Async<BlurTask, Where::kThreadpool>},
    {"sleep", Async<SleepTask, Where::kThreadpool>},
    {"noop", Async<NoopTask, Where::kThreadpool>},
    {"createCancelToken", CreateCancelTokenExport},
    {"cancel", CancelExport},
    {"setThreadPolicy", SetThreadPolicyExport},
};

// exports.pool: the dedicated pool (pool.h), same tasks, another executor.
const ExportEntry kPoolExports[] = {
    {"start", PoolStartExport},
    {"stop", PoolStopExport},
    {"stats", PoolStatsExport},
    {"primes", Async<PrimesTask, Where::kPool>},
    {"pbkdf2", Async<Pbkdf2Task, Where::kPool>},
    {"blur", Async<BlurTask, Where::kPool>},
    {"sleep", Async<SleepTask, Where::kPool>},
    {"noop", Async<NoopTask, Where::kPool>},
};

}  // namespace

Napi::Object Init(Napi::Env env, Napi::Object exports) {
  for (const ExportEntry& e : kExports) {
    exports.Set(e.name, Napi::Function::New(env, e.fn, e.name));
  }
  InitEnv(env);  // per environment: this thread's pool slot and in-flight threadpool work
  Napi::Object pool = Napi::Object::New(env);
  for (const ExportEntry& e : kPoolExports) {
    pool.Set(e.name, Napi::Function::New(env, e.fn, e.name));
  }
  exports.Set("pool", pool);
  // Fixed when the addon loads: reads OFFLOOP_SHA once, process-wide.
  const char* backend = sha256::Active().name;
  exports.DefineProperty(Napi::PropertyDescriptor::Value(
      "shaBackend", Napi::String::New(env, backend), napi_enumerable));
  return exports;
}

}  // namespace binding
}  // namespace offloop

Napi::Object InitOffloop(Napi::Env env, Napi::Object exports) {
  return offloop::binding::Init(env, exports);
}

NODE_API_MODULE(offloop_cpp, InitOffloop)
