// Argument validation for the offloop binding (node-addon-api, C++ exceptions enabled).
//
// Errors follow native/README.md: TypeError + code ERR_INVALID_ARG_TYPE, RangeError + code
// ERR_OUT_OF_RANGE, and every message starts with `The "<name>" argument`.
#ifndef OFFLOOP_ARGS_H_
#define OFFLOOP_ARGS_H_

#include <napi.h>

#include <cmath>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <new>
#include <string>

#include "env.h"
#include "memory.h"

namespace offloop {
namespace binding {

[[noreturn]] inline void ThrowTypeError(Napi::Env env, const std::string& message) {
  Napi::TypeError error = Napi::TypeError::New(env, message);
  error.Set("code", Napi::String::New(env, "ERR_INVALID_ARG_TYPE"));
  throw error;
}

[[noreturn]] inline void ThrowRangeError(Napi::Env env, const std::string& message) {
  Napi::RangeError error = Napi::RangeError::New(env, message);
  error.Set("code", Napi::String::New(env, "ERR_OUT_OF_RANGE"));
  throw error;
}

inline std::string ArgPrefix(const char* name) {
  return std::string("The \"") + name + "\" argument";
}

inline const char* TypedArrayName(napi_typedarray_type type) {
  switch (type) {
    case napi_int8_array: return "Int8Array";
    case napi_uint8_array: return "Uint8Array";
    case napi_uint8_clamped_array: return "Uint8ClampedArray";
    case napi_int16_array: return "Int16Array";
    case napi_uint16_array: return "Uint16Array";
    case napi_int32_array: return "Int32Array";
    case napi_uint32_array: return "Uint32Array";
    case napi_float32_array: return "Float32Array";
    case napi_float64_array: return "Float64Array";
    case napi_bigint64_array: return "BigInt64Array";
    case napi_biguint64_array: return "BigUint64Array";
  }
  return "TypedArray";
}

// Number -> its JS string form (side-effect free for a number primitive).
inline std::string NumberToString(Napi::Env env, napi_value number) {
  napi_value str;
  if (napi_coerce_to_string(env, number, &str) != napi_ok) return "?";
  char buf[64];
  size_t len = 0;
  if (napi_get_value_string_utf8(env, str, buf, sizeof(buf), &len) != napi_ok) return "?";
  return std::string(buf, len);
}

// "Received ..." in the style of Node's ERR_INVALID_ARG_TYPE, without running user code
// (no getters, no toString, no Proxy traps).
inline std::string DescribeReceived(Napi::Value value) {
  Napi::Env env = value.Env();
  switch (value.Type()) {
    case napi_undefined: return "Received undefined";
    case napi_null: return "Received null";
    case napi_boolean:
      return std::string("Received type boolean (") +
             (value.As<Napi::Boolean>().Value() ? "true" : "false") + ")";
    case napi_number: return "Received type number (" + NumberToString(env, value) + ")";
    case napi_string: {
      std::string s = value.As<Napi::String>().Utf8Value();
      if (s.size() > 25) s = s.substr(0, 25) + "...";
      return "Received type string ('" + s + "')";
    }
    case napi_symbol: return "Received type symbol";
    case napi_bigint: return "Received type bigint";
    case napi_function: return "Received function";
    case napi_external: return "Received an external";
    case napi_object: {
      if (value.IsTypedArray()) {
        return std::string("Received an instance of ") +
               TypedArrayName(value.As<Napi::TypedArray>().TypedArrayType());
      }
      if (value.IsArrayBuffer()) return "Received an instance of ArrayBuffer";
      if (value.IsDataView()) return "Received an instance of DataView";
      if (value.IsArray()) return "Received an instance of Array";
      if (value.IsPromise()) return "Received an instance of Promise";
      return "Received type object";
    }
    default: return "Received type unknown";
  }
}

// An integer argument in [min, max]. Not a number: TypeError. NaN, +-Infinity, fractions
// and values outside the bounds: RangeError.
inline uint64_t GetInteger(const Napi::CallbackInfo& info, size_t index, const char* name,
                           uint64_t min, uint64_t max) {
  Napi::Env env = info.Env();
  Napi::Value value = info[index];
  if (!value.IsNumber()) {
    ThrowTypeError(env, ArgPrefix(name) + " must be of type number. " + DescribeReceived(value));
  }
  const double d = value.As<Napi::Number>().DoubleValue();
  if (!std::isfinite(d) || std::floor(d) != d || d < static_cast<double>(min) ||
      d > static_cast<double>(max)) {
    ThrowRangeError(env, ArgPrefix(name) + " is out of range. It must be an integer >= " +
                             std::to_string(min) + " and <= " + std::to_string(max) +
                             ". Received " + NumberToString(env, value));
  }
  return static_cast<uint64_t>(d);
}

// Bytes of a Uint8Array (a Buffer is one), or of a Uint8ClampedArray where allowed. The
// pointer is valid until JS runs again (the binding copies it for async work).
struct ByteView {
  const uint8_t* data;
  size_t length;
};

// Whether `view` (reported empty) lies outside its ArrayBuffer: V8 reports a view as empty once
// its resizable buffer has shrunk below it. The built-in `at`, captured when the addon loaded
// (so no user code runs), throws on such a view and returns undefined on a truly empty one.
inline bool OutOfBounds(Napi::Value view) {
  Napi::Env env = view.Env();
  try {
    GetEnvState(env)->typed_array_at.Call(view, {Napi::Number::New(env, 0)});
    return false;
  } catch (const Napi::Error&) {
    return true;  // the TypeError `at` threw (now cleared)
  }
}

inline ByteView GetBytes(const Napi::CallbackInfo& info, size_t index, const char* name,
                         bool allow_clamped) {
  Napi::Env env = info.Env();
  Napi::Value value = info[index];
  const char* expected = allow_clamped ? " must be an instance of Uint8Array or Uint8ClampedArray. "
                                       : " must be an instance of Uint8Array. ";
  if (!value.IsTypedArray()) {
    ThrowTypeError(env, ArgPrefix(name) + expected + DescribeReceived(value));
  }
  napi_typedarray_type type;
  size_t length = 0;
  void* data = nullptr;
  napi_value arraybuffer;
  size_t byte_offset = 0;
  napi_status status =
      napi_get_typedarray_info(env, value, &type, &length, &data, &arraybuffer, &byte_offset);
  NAPI_THROW_IF_FAILED(env, status, ByteView{});
  if (type != napi_uint8_array && !(allow_clamped && type == napi_uint8_clamped_array)) {
    ThrowTypeError(env, ArgPrefix(name) + expected + DescribeReceived(value));
  }
  bool detached = false;
  status = napi_is_detached_arraybuffer(env, arraybuffer, &detached);
  NAPI_THROW_IF_FAILED(env, status, ByteView{});
  if (detached || (length == 0 && OutOfBounds(value))) {
    ThrowTypeError(env, ArgPrefix(name) +
                            " must be within its ArrayBuffer (it was detached, or resized below "
                            "the view). " +
                            DescribeReceived(value));
  }
  if (length == 0) data = nullptr;
  return ByteView{static_cast<const uint8_t*>(data), length};
}

// Bytes held by a task: borrowed (synchronous calls, and asynchronous ones until every
// argument is validated: JS cannot run meanwhile) or an owned native copy (asynchronous calls
// once queued: the caller may mutate, detach or transfer its buffer).
class Bytes {
 public:
  enum class Mode { kBorrow, kCopy };

  Bytes() = default;
  Bytes(Napi::Env env, ByteView view, Mode mode) : data_(view.data), length_(view.length) {
    if (mode == Mode::kCopy && length_ > 0) {
      uint8_t* copy = AllocateBytes(length_);
      if (copy == nullptr) {
        throw Napi::Error::New(env, "Failed to allocate " + std::to_string(length_) +
                                        " bytes for an input copy");
      }
      std::memcpy(copy, view.data, length_);
      owned_.reset(copy);
      data_ = copy;
    }
  }

  // Turns a borrowed view into an owned native copy (no-op if already owned or empty).
  void Own(Napi::Env env) {
    if (!owned_ && length_ > 0) *this = Bytes(env, ByteView{data_, length_}, Mode::kCopy);
  }

  const uint8_t* data() const { return data_; }
  size_t size() const { return length_; }

 private:
  BytesPtr owned_;
  const uint8_t* data_ = nullptr;
  size_t length_ = 0;
};

}  // namespace binding
}  // namespace offloop

#endif  // OFFLOOP_ARGS_H_
