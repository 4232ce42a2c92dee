#include "memory.h"

#include <cstdint>
#include <cstdlib>

#if defined(__linux__)
#include <sys/mman.h>
#define OFFLOOP_USE_MMAP 1
#else
#define OFFLOOP_USE_MMAP 0
#endif

namespace offloop {

namespace {

// Every buffer starts with this header, so FreeBytes needs only the data pointer.
struct Header {
  size_t map_length;  // 0: malloc'ed; else the length of the mmap'ed region at the header
  unsigned char pad[64 - sizeof(size_t)];
};
static_assert(sizeof(Header) == 64, "data stays as aligned as the allocation + 64");

constexpr size_t kHugePage = size_t(2) << 20;
// From this size on, a huge-page mapping (rounded up to 2 MiB) pays for itself.
constexpr size_t kMmapThreshold = size_t(1) << 20;

#if OFFLOOP_USE_MMAP
void* MapHuge(size_t length) {
  // Over-allocate by one huge page and trim so the region is 2 MiB aligned.
  const size_t raw_length = length + kHugePage;
  void* raw =
      mmap(nullptr, raw_length, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  if (raw == MAP_FAILED) return nullptr;
  const uintptr_t begin = reinterpret_cast<uintptr_t>(raw);
  const uintptr_t aligned = (begin + kHugePage - 1) & ~(uintptr_t(kHugePage) - 1);
  if (aligned > begin) munmap(raw, aligned - begin);
  const uintptr_t end = begin + raw_length;
  if (end > aligned + length)
    munmap(reinterpret_cast<void*>(aligned + length), end - (aligned + length));
#ifdef MADV_HUGEPAGE
  madvise(reinterpret_cast<void*>(aligned), length, MADV_HUGEPAGE);
#endif
  return reinterpret_cast<void*>(aligned);
}
#endif

}  // namespace

uint8_t* AllocateBytes(size_t size) {
  if (size > SIZE_MAX - kHugePage * 2) return nullptr;
  const size_t total = size + sizeof(Header);
#if OFFLOOP_USE_MMAP
  if (size >= kMmapThreshold) {
    const size_t length = (total + kHugePage - 1) & ~(kHugePage - 1);
    void* region = MapHuge(length);
    if (region == nullptr) return nullptr;
    Header* header = static_cast<Header*>(region);
    header->map_length = length;
    return reinterpret_cast<uint8_t*>(header + 1);
  }
#endif
  Header* header = static_cast<Header*>(std::malloc(total));
  if (header == nullptr) return nullptr;
  header->map_length = 0;
  return reinterpret_cast<uint8_t*>(header + 1);
}

void FreeBytes(uint8_t* data) {
  if (data == nullptr) return;
  Header* header = reinterpret_cast<Header*>(data) - 1;
#if OFFLOOP_USE_MMAP
  if (header->map_length != 0) {
    munmap(header, header->map_length);
    return;
  }
#endif
  std::free(header);
}

}  // namespace offloop
