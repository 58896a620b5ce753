// fp32 -> fp16 / bf16 conversion, round to nearest even, written on the bit patterns so that the CPU kernels (any
// ISA clone), the CUDA kernels and torch's own `.to(dtype)` all give the same bits.
#pragma once
#include <stdint.h>
#include <string.h>

#include <type_traits>

#include "fastload/macros.h"

namespace fastload {

enum class OutDtype : int { kFloat32 = 0, kFloat16 = 1, kBFloat16 = 2 };

FL_HOST_DEVICE FL_INLINE uint32_t float_bits(float f) {
#if defined(__CUDA_ARCH__)
  return __float_as_uint(f);
#else
  uint32_t u;
  memcpy(&u, &f, sizeof(u));
  return u;
#endif
}

FL_HOST_DEVICE FL_INLINE float bits_float(uint32_t u) {
#if defined(__CUDA_ARCH__)
  return __uint_as_float(u);
#else
  float f;
  memcpy(&f, &u, sizeof(f));
  return f;
#endif
}

// Round-to-nearest-even fp32 -> IEEE binary16, including subnormal results, overflow to inf, inf and NaN (quiet).
// Written with selects rather than branches so that the CPU loops that call it still vectorize.
FL_HOST_DEVICE FL_INLINE uint16_t float_to_half_bits(float f) {
  const uint32_t bits = float_bits(f);
  const uint32_t sign = (bits >> 16) & 0x8000u;
  const uint32_t mag = bits & 0x7fffffffu;
  // Normal half (|f| >= 2^-14): re-bias the exponent (127 -> 15) and round away the 13 low mantissa bits; a carry
  // correctly bumps the exponent. (Wraps for smaller |f|, where the value is not used.)
  const uint32_t normal = (mag + 0xfffu + ((mag >> 13) & 1u) - (112u << 23)) >> 13;
  // Subnormal half: counts of 2^-24. 0.5f has exactly that ulp, so the fp32 addition rounds |f| to the nearest count
  // (ties to even) and the count is the difference of the bit patterns.
#if defined(__CUDA_ARCH__)
  const float biased = __fadd_rn(bits_float(mag), 0.5f);
#else
  const float biased = bits_float(mag) + 0.5f;
#endif
  const uint32_t subnormal = float_bits(biased) - 0x3f000000u;
  uint32_t result = mag < 0x38800000u ? subnormal : normal;
  result = mag >= 0x477ff000u ? 0x7c00u : result;  // >= 65520 rounds to inf (inf stays inf)
  result = mag > 0x7f800000u ? 0x7e00u : result;   // NaN
  return static_cast<uint16_t>(sign | result);
}

// Round-to-nearest-even fp32 -> bfloat16 (the upper 16 bits); NaN stays a quiet NaN.
FL_HOST_DEVICE FL_INLINE uint16_t float_to_bfloat16_bits(float f) {
  const uint32_t bits = float_bits(f);
  const uint32_t rounded = (bits + 0x7fffu + ((bits >> 16) & 1u)) >> 16;
  return static_cast<uint16_t>((bits & 0x7fffffffu) > 0x7f800000u ? (bits >> 16) | 0x40u : rounded);
}

// Calls f(std::integral_constant<OutDtype, d>{}) so one templated kernel serves every output dtype (host code).
template <typename F>
void dispatch_out_dtype(OutDtype d, F&& f) {
  switch (d) {
    case OutDtype::kFloat32:
      f(std::integral_constant<OutDtype, OutDtype::kFloat32>{});
      break;
    case OutDtype::kFloat16:
      f(std::integral_constant<OutDtype, OutDtype::kFloat16>{});
      break;
    case OutDtype::kBFloat16:
      f(std::integral_constant<OutDtype, OutDtype::kBFloat16>{});
      break;
  }
}

// Storage type and conversion per output dtype, so kernels are written once over `OutDtype`.
template <OutDtype D>
struct OutTraits;
template <>
struct OutTraits<OutDtype::kFloat32> {
  using storage = float;
  FL_HOST_DEVICE FL_INLINE static float from_float(float v) { return v; }
};
template <>
struct OutTraits<OutDtype::kFloat16> {
  using storage = uint16_t;
  FL_HOST_DEVICE FL_INLINE static uint16_t from_float(float v) { return float_to_half_bits(v); }
};
template <>
struct OutTraits<OutDtype::kBFloat16> {
  using storage = uint16_t;
  FL_HOST_DEVICE FL_INLINE static uint16_t from_float(float v) { return float_to_bfloat16_bits(v); }
};

}  // namespace fastload
