// fp32 -> fp16 / bf16 conversion, round to nearest even, written on the bit patterns so that the CPU kernels (any
// ISA clone), the CUDA kernels and torch's own `.to(dtype)` all give the same bits.
#pragma once
#include <stdint.h>
#include <string.h>

#include <type_traits>

#include "math/macros.h"

namespace fastload {

// The floating-point dtypes fastload reads and writes.
enum class FloatDtype : int { kFloat32 = 0, kFloat16 = 1, kBFloat16 = 2 };

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

// Exact widening of fp16 / bf16 bit patterns to fp32 (every value, subnormals, inf and NaN included).
FL_HOST_DEVICE FL_INLINE float half_bits_to_float(uint16_t h) {
  const uint32_t sign = static_cast<uint32_t>(h & 0x8000u) << 16;
  const uint32_t exponent = (h >> 10) & 0x1fu;
  const uint32_t mantissa = h & 0x3ffu;
  // Normal and inf/NaN: re-bias the exponent (15 -> 127) and widen the mantissa. Subnormal: mantissa * 2^-24, exact
  // in fp32 arithmetic.
  const float subnormal = static_cast<float>(mantissa) * bits_float(0x33800000u);  // 2^-24
  const uint32_t widened =
      exponent == 0x1fu ? (0x7f800000u | (mantissa << 13)) : (((exponent + 112u) << 23) | (mantissa << 13));
  const uint32_t magnitude = exponent == 0 ? float_bits(subnormal) : widened;
  return bits_float(sign | magnitude);
}

FL_HOST_DEVICE FL_INLINE float bfloat16_bits_to_float(uint16_t b) { return bits_float(static_cast<uint32_t>(b) << 16); }

// Calls f(std::integral_constant<FloatDtype, d>{}) so one templated kernel serves every output dtype (host code).
template <typename F>
void dispatch_float_dtype(FloatDtype d, F&& f) {
  switch (d) {
    case FloatDtype::kFloat32:
      f(std::integral_constant<FloatDtype, FloatDtype::kFloat32>{});
      break;
    case FloatDtype::kFloat16:
      f(std::integral_constant<FloatDtype, FloatDtype::kFloat16>{});
      break;
    case FloatDtype::kBFloat16:
      f(std::integral_constant<FloatDtype, FloatDtype::kBFloat16>{});
      break;
  }
}

// Storage type and conversions per float dtype, so kernels are written once over `FloatDtype`: from_float rounds
// once to the dtype, to_float widens a stored value exactly.
template <FloatDtype D>
struct FloatTraits;
template <>
struct FloatTraits<FloatDtype::kFloat32> {
  using storage = float;
  FL_HOST_DEVICE FL_INLINE static float from_float(float v) { return v; }
  FL_HOST_DEVICE FL_INLINE static float to_float(float v) { return v; }
};
template <>
struct FloatTraits<FloatDtype::kFloat16> {
  using storage = uint16_t;
  FL_HOST_DEVICE FL_INLINE static uint16_t from_float(float v) { return float_to_half_bits(v); }
  FL_HOST_DEVICE FL_INLINE static float to_float(uint16_t v) { return half_bits_to_float(v); }
};
template <>
struct FloatTraits<FloatDtype::kBFloat16> {
  using storage = uint16_t;
  FL_HOST_DEVICE FL_INLINE static uint16_t from_float(float v) { return float_to_bfloat16_bits(v); }
  FL_HOST_DEVICE FL_INLINE static float to_float(uint16_t v) { return bfloat16_bits_to_float(v); }
};

}  // namespace fastload
