// Native byte buffers for large inputs/outputs (blur images, input copies).
//
// Large buffers are mmap'ed on Linux with transparent huge pages requested (MADV_HUGEPAGE):
// a fresh 4 MiB image then costs two page faults instead of a thousand, which on
// virtualised hosts is the difference between ~0.2 ms and ~10 ms per call. Small buffers
// and other platforms use malloc. Plain C++, no Node-API.
#ifndef OFFLOOP_MEMORY_H_
#define OFFLOOP_MEMORY_H_

#include <cstddef>
#include <cstdint>
#include <memory>

namespace offloop {

// Returns nullptr on failure. The memory is uninitialised.
uint8_t* AllocateBytes(size_t size);
// Frees memory from AllocateBytes (nullptr is ignored).
void FreeBytes(uint8_t* data);

struct BytesDeleter {
  void operator()(uint8_t* p) const { FreeBytes(p); }
};
using BytesPtr = std::unique_ptr<uint8_t, BytesDeleter>;

}  // namespace offloop

#endif  // OFFLOOP_MEMORY_H_
