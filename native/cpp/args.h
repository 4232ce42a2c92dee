// Argument validation for the offloop binding (node-addon-api, C++ exceptions enabled).
//
// Errors follow native/README.md: TypeError + code ERR_INVALID_ARG_TYPE, RangeError + code
// ERR_OUT_OF_RANGE, and every message starts with `The "<name>" argument`.
#ifndef OFFLOOP_ARGS_H_
#define OFFLOOP_ARGS_H_

#include <napi.h>

#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <new>
#include <string>
#include <vector>

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

// String(v) for a primitive whose stringification runs no user code (number, bigint), at most
// `max` bytes of it (cut at a character boundary).
inline std::string Display(Napi::Env env, napi_value value, size_t max = 64) {
  napi_value str;
  if (napi_coerce_to_string(env, value, &str) != napi_ok) return "?";
  std::string buf(max + 1, '\0');
  size_t len = 0;
  if (napi_get_value_string_utf8(env, str, &buf[0], buf.size(), &len) != napi_ok) return "?";
  buf.resize(len < max ? len : max);
  return buf;
}

// A number as String(n) shows it, except -0.
inline std::string NumberShown(Napi::Env env, Napi::Value value) {
  const double d = value.As<Napi::Number>().DoubleValue();
  if (d == 0 && std::signbit(d)) return "-0";
  return Display(env, value);
}

// JSON.stringify of the string, cut to 25 characters + "..." beyond 28 (characters being
// Unicode code points, as in the Rust addon).
inline std::string Quote(const std::string& utf8) {
  std::vector<size_t> starts;  // byte offset of each code point
  for (size_t i = 0; i < utf8.size(); ++i) {
    if ((static_cast<unsigned char>(utf8[i]) & 0xC0) != 0x80) starts.push_back(i);
  }
  std::string shown = utf8;
  if (starts.size() > 28) shown = utf8.substr(0, starts[25]) + "...";
  std::string out = "\"";
  for (char c : shown) {
    switch (c) {
      case '"': out += "\\\""; break;
      case '\\': out += "\\\\"; break;
      case '\n': out += "\\n"; break;
      case '\r': out += "\\r"; break;
      case '\t': out += "\\t"; break;
      default:
        if (static_cast<unsigned char>(c) < 0x20) {
          char escaped[8];
          std::snprintf(escaped, sizeof(escaped), "\\u%04x", static_cast<unsigned>(c));
          out += escaped;
        } else {
          out += c;
        }
    }
  }
  return out + "\"";
}

// How a value is shown after "Received", in the style of Node's own argument errors (and of the
// TypeScript layer's and the Rust addon's), without running user code (no getters, no
// toString, no Proxy traps).
inline std::string Describe(Napi::Value value) {
  Napi::Env env = value.Env();
  switch (value.Type()) {
    case napi_undefined: return "undefined";
    case napi_null: return "null";
    case napi_boolean: return "type boolean";
    case napi_number: return NumberShown(env, value);
    case napi_string: {
      std::string s(4 * 29 + 1, '\0');
      size_t len = 0;
      if (napi_get_value_string_utf8(env, value, &s[0], s.size(), &len) != napi_ok) len = 0;
      s.resize(len);
      return "type string (" + Quote(s) + ")";
    }
    case napi_symbol: return "type symbol";
    case napi_bigint: return "type bigint (" + Display(env, value) + "n)";
    case napi_function: return "function";
    case napi_external: return "an external";
    case napi_object: {
      if (value.IsTypedArray()) {
        return std::string("an instance of ") +
               TypedArrayName(value.As<Napi::TypedArray>().TypedArrayType());
      }
      if (value.IsArray()) return "an instance of Array";
      if (value.IsArrayBuffer()) return "an instance of ArrayBuffer";
      if (value.IsDataView()) return "an instance of DataView";
      if (value.IsPromise()) return "an instance of Promise";
      return "type object";
    }
    default: return "type unknown";
  }
}

inline std::string DescribeReceived(Napi::Value value) { return "Received " + Describe(value); }

// TypeError: `The "<name>" argument must be <expected>. Received <value>`.
[[noreturn]] inline void ThrowInvalidType(Napi::Value value, const char* name,
                                          const std::string& expected) {
  ThrowTypeError(value.Env(),
                 ArgPrefix(name) + " must be " + expected + ". " + DescribeReceived(value));
}

// RangeError: `The "<name>" argument must be <expected>. Received <value>`.
[[noreturn]] inline void ThrowOutOfRange(Napi::Value value, const char* name,
                                         const std::string& expected) {
  ThrowRangeError(value.Env(),
                  ArgPrefix(name) + " must be " + expected + ". " + DescribeReceived(value));
}

// An integer argument in [min, max]. Not a number: TypeError. NaN, +-Infinity, fractions
// and values outside the bounds: RangeError.
inline uint64_t GetInteger(const Napi::CallbackInfo& info, size_t index, const char* name,
                           uint64_t min, uint64_t max) {
  Napi::Value value = info[index];
  if (!value.IsNumber()) ThrowInvalidType(value, name, "of type number");
  const double d = value.As<Napi::Number>().DoubleValue();
  if (!std::isfinite(d) || std::floor(d) != d || d < static_cast<double>(min) ||
      d > static_cast<double>(max)) {
    ThrowOutOfRange(value, name,
                    "an integer from " + std::to_string(min) + " to " + std::to_string(max));
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
  const char* expected = allow_clamped ? "an instance of Uint8Array or Uint8ClampedArray"
                                       : "an instance of Uint8Array";
  if (!value.IsTypedArray()) ThrowInvalidType(value, name, expected);
  napi_typedarray_type type;
  size_t length = 0;
  void* data = nullptr;
  napi_value arraybuffer;
  size_t byte_offset = 0;
  napi_status status =
      napi_get_typedarray_info(env, value, &type, &length, &data, &arraybuffer, &byte_offset);
  NAPI_THROW_IF_FAILED(env, status, ByteView{});
  if (type != napi_uint8_array && !(allow_clamped && type == napi_uint8_clamped_array)) {
    ThrowInvalidType(value, name, expected);
  }
  bool detached = false;
  status = napi_is_detached_arraybuffer(env, arraybuffer, &detached);
  NAPI_THROW_IF_FAILED(env, status, ByteView{});
  if (detached || (length == 0 && OutOfBounds(value))) {
    ThrowInvalidType(value, name,
                     "within its ArrayBuffer (it was detached, or resized below the view)");
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
        throw Napi::Error::New(
            env, "Failed to allocate " + std::to_string(length_) + " bytes for an input copy");
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
