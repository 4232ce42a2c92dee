// PBKDF2-HMAC-SHA256 (RFC 8018 §5.2) on offloop's own SHA-256.
#include <algorithm>
#include <cstring>

#include "kernels.h"
#include "sha256.h"

namespace offloop {

namespace {
constexpr uint32_t kPollEvery = 256;  // iterations between cancel checks
}  // namespace

Status Pbkdf2Sha256(const uint8_t* password, size_t password_len, const uint8_t* salt,
                    size_t salt_len, uint32_t iterations, uint8_t* out, size_t keylen,
                    CancelFlag cancel) {
  using namespace sha256;
  const Impl& impl = Active();
  if (IsCancelled(cancel)) return Status::kAborted;

  // HMAC key: the password, or its digest when longer than the block.
  uint8_t key[64] = {0};
  if (password_len > 64) {
    Hasher h(impl);
    h.Update(password, password_len);
    h.Final(key);
  } else if (password_len > 0) {
    std::memcpy(key, password, password_len);
  }
  // Inner and outer states: one compression each, per call.
  uint32_t ipad[16], opad[16];
  for (int i = 0; i < 16; ++i) {
    const uint32_t k = LoadBe32(key + 4 * i);
    ipad[i] = k ^ 0x36363636u;
    opad[i] = k ^ 0x5c5c5c5cu;
  }
  uint32_t istate[8], ostate[8];
  std::memcpy(istate, kInitialState, sizeof(istate));
  std::memcpy(ostate, kInitialState, sizeof(ostate));
  impl.compress(istate, ipad);
  impl.compress(ostate, opad);
  std::memset(key, 0, sizeof(key));

  // U_1 = HMAC(P, S || INT(block)), in word form.
  auto first_u = [&](size_t block, uint32_t u[8]) {
    uint32_t inner[8];
    Hasher h(impl);
    h.Resume(istate, 64);
    if (salt_len > 0) h.Update(salt, salt_len);
    uint8_t be[4];
    StoreBe32(be, static_cast<uint32_t>(block));
    h.Update(be, 4);
    h.FinalWords(inner);
    uint32_t outer_block[16] = {0};
    std::memcpy(outer_block, inner, sizeof(inner));
    outer_block[8] = 0x80000000u;
    outer_block[15] = 768u;  // (64 + 32) bytes in bits
    std::memcpy(u, ostate, 8 * sizeof(uint32_t));
    impl.compress(u, outer_block);
  };
  auto emit = [&](size_t block, const uint32_t t[8]) {
    uint8_t bytes[32];
    for (int i = 0; i < 8; ++i) StoreBe32(bytes + 4 * i, t[i]);
    const size_t offset = (block - 1) * 32;
    std::memcpy(out + offset, bytes, std::min<size_t>(32, keylen - offset));
  };

  // Output blocks T_i = U_1 ^ ... ^ U_c, two at a time so their chains interleave.
  const size_t blocks = (keylen + 31) / 32;
  for (size_t block = 1; block <= blocks; block += 2) {
    const bool pair = block + 1 <= blocks;
    uint32_t ua[8], ta[8], ub[8], tb[8];
    first_u(block, ua);
    std::memcpy(ta, ua, sizeof(ta));
    if (pair) {
      first_u(block + 1, ub);
      std::memcpy(tb, ub, sizeof(tb));
    }
    // U_2 .. U_c: two compressions of prepadded blocks each.
    uint32_t remaining = iterations - 1;
    while (remaining > 0) {
      if (IsCancelled(cancel)) return Status::kAborted;
      const uint32_t n = std::min(remaining, kPollEvery);
      if (pair) {
        impl.pbkdf2_loop2(istate, ostate, ua, ta, ub, tb, n);
      } else {
        impl.pbkdf2_loop(istate, ostate, ua, ta, n);
      }
      remaining -= n;
    }
    emit(block, ta);
    if (pair) emit(block + 1, tb);
  }
  return Status::kOk;
}

}  // namespace offloop
