#include "optiq/quant/affine_pack.h"

#include <cstring>

#include "optiq/core/error.h"

namespace optiq {
namespace {

void check_pack_args(int64_t count, int bits) {
  if (bits < 2 || bits > 8) {
    fail("affine code packing: bits must be in [2, 8], got {}", bits);
  }
  if (count < 0 || (count * bits) % 32 != 0) {
    fail(
        "affine code packing: {} codes of {} bits do not fill whole uint32 "
        "words",
        count, bits);
  }
}

}  // namespace

void pack_affine_codes(const uint8_t* codes, int64_t count, int bits,
                       uint32_t* words) {
  check_pack_args(count, bits);
  const uint32_t mask = (1u << bits) - 1u;
  // The accumulator keeps fewer than 32 pending bits before each append, so
  // 32 + 8 bits always fit in 64.
  uint64_t pending = 0;
  int pending_bits = 0;
  for (int64_t i = 0; i < count; ++i) {
    pending |= static_cast<uint64_t>(codes[i] & mask) << pending_bits;
    pending_bits += bits;
    if (pending_bits >= 32) {
      *words++ = static_cast<uint32_t>(pending);
      pending >>= 32;
      pending_bits -= 32;
    }
  }
  OPTIQ_ASSERT(pending_bits == 0);
}

void unpack_affine_codes(const void* words, int64_t count, int bits,
                         uint8_t* codes) {
  check_pack_args(count, bits);
  const auto* bytes = static_cast<const uint8_t*>(words);
  // Fast paths: for 8, 4 and 2 bits every byte contains whole codes.
  if (bits == 8) {
    std::memcpy(codes, bytes, static_cast<size_t>(count));
    return;
  }
  if (bits == 4) {
    for (int64_t i = 0; i < count / 2; ++i) {
      codes[2 * i] = bytes[i] & 0x0f;
      codes[2 * i + 1] = bytes[i] >> 4;
    }
    return;
  }
  if (bits == 2) {
    for (int64_t i = 0; i < count / 4; ++i) {
      const uint8_t byte = bytes[i];
      codes[4 * i] = byte & 0x03;
      codes[4 * i + 1] = (byte >> 2) & 0x03;
      codes[4 * i + 2] = (byte >> 4) & 0x03;
      codes[4 * i + 3] = byte >> 6;
    }
    return;
  }
  // 3, 5, 6 and 7 bits: read the stream one byte at a time.
  const uint32_t mask = (1u << bits) - 1u;
  uint32_t pending = 0;
  int pending_bits = 0;
  for (int64_t i = 0; i < count; ++i) {
    if (pending_bits < bits) {
      pending |= static_cast<uint32_t>(*bytes++) << pending_bits;
      pending_bits += 8;
    }
    codes[i] = static_cast<uint8_t>(pending & mask);
    pending >>= bits;
    pending_bits -= bits;
  }
}

}  // namespace optiq
