// Cancel tokens: an External wrapping a reference-counted CancelState shared between JS
// (the token) and the work that uses it.
#ifndef OFFLOOP_CANCEL_H_
#define OFFLOOP_CANCEL_H_

#include <napi.h>

#include <atomic>
#include <memory>

#include "args.h"

namespace offloop {
namespace binding {

// A pending call a token is attached to. Implemented by each executor (libuv async work,
// the dedicated pool). Called on the JS thread only.
class PendingWork {
 public:
  // cancel(token) has just set the token's flag: take the work back if it is still queued
  // (it then settles with an AbortError, now or later), else make sure the running kernel
  // sees the cancellation. The implementation may settle and free itself.
  virtual void OnCancel() = 0;

 protected:
  ~PendingWork() = default;
};

struct CancelState {
  std::atomic<bool> cancelled{false};
  // The call this token is attached to, until it settles. JS thread only.
  PendingWork* pending = nullptr;
};

using CancelHandle = std::shared_ptr<CancelState>;

// Tags externals made by this addon's createCancelToken (type tags need Node-API 8).
inline const napi_type_tag* CancelTokenTag() {
  static const napi_type_tag tag = {0x6f66666c6f6f7063ull, 0x616e63656c746f6bull};
  return &tag;
}

inline Napi::Value CreateCancelToken(Napi::Env env) {
  auto* handle = new CancelHandle(std::make_shared<CancelState>());
  Napi::External<CancelHandle> external;
  try {
    external = Napi::External<CancelHandle>::New(env, handle,
                                                 [](Napi::Env, CancelHandle* h) { delete h; });
  } catch (...) {
    delete handle;
    throw;
  }
  external.TypeTag(CancelTokenTag());
  return external;
}

enum class TokenUse {
  kCall,    // an optional token for a new call: undefined allowed, must not be attached
  kCancel,  // the argument of cancel(): required, may be attached
};

// Returns the token's state, or nullptr for `undefined` (kCall only).
inline CancelHandle GetCancelToken(const Napi::CallbackInfo& info, size_t index, TokenUse use) {
  Napi::Env env = info.Env();
  Napi::Value value = info[index];
  if (use == TokenUse::kCall && value.IsUndefined()) return nullptr;
  if (!value.IsExternal() ||
      !value.As<Napi::External<CancelHandle>>().CheckTypeTag(CancelTokenTag())) {
    ThrowInvalidType(value, "token",
                     use == TokenUse::kCall ? "a token from createCancelToken() or undefined"
                                            : "a token from createCancelToken()");
  }
  CancelHandle handle = *value.As<Napi::External<CancelHandle>>().Data();
  if (use == TokenUse::kCall && handle->pending != nullptr) {
    ThrowTypeError(env, "The \"token\" argument is already attached to a pending call");
  }
  return handle;
}

// cancel(token): sets the flag and takes still-queued work back so it never runs.
inline void CancelToken(const CancelHandle& handle) {
  handle->cancelled.store(true, std::memory_order_relaxed);
  if (handle->pending != nullptr) handle->pending->OnCancel();
}

}  // namespace binding
}  // namespace offloop

#endif  // OFFLOOP_CANCEL_H_
