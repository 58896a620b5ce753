// warp_affine's bilinear AVX2 loops: 8 output pixels at a time, with 3 interleaved channels (channel stride 1: an
// NHWC batch permuted to NCHW) each tap's three bytes as one gathered 4-byte word (its fourth byte unused), on planes
// a tap pair as one word; the output stored as 8 interleaved pixels (ow 3, oc 1), planes (ow 1) or byte by byte. A loop
// returns false, having written nothing, where a word would pass the image's last byte (an offset above `limit`), and
// the caller takes those pixels one byte at a time.
#pragma once
#include <stdint.h>
#include <string.h>

#include "cpu/byte_stores_avx2.h"
#include "cpu/isa.h"
#include "math/warp_math.h"

namespace fastload {

// A row's bilinear taps, one array per tap (nw, ne, sw, se) so that the loops over the row vectorize; offsets as
// Index (int32_t where every byte offset of the image fits, so that a vector holds twice as many).
template <typename Index>
struct TapRow {
  Index* offset[4];
  float* weight[4];
  float* mask;
};

#if FL_HAVE_AVX2_ROWS
namespace warp_avx2 {

// Byte `i` of each 32-bit lane, as floats.
FL_AVX2_FMA inline __m256 byte_of(__m256i words, int i) {
  return _mm256_cvtepi32_ps(_mm256_and_si256(_mm256_srli_epi32(words, 8 * i), _mm256_set1_epi32(0xff)));
}

// Whether any of the 8 offsets is above `limit`.
FL_AVX2_FMA inline bool any_above(__m256i offsets, int32_t limit) {
  const __m256i above = _mm256_cmpgt_epi32(offsets, _mm256_set1_epi32(limit));
  return !_mm256_testz_si256(above, above);
}

// The taps' offsets of pixels x .. x + 7; false where one is above `limit`.
FL_AVX2_FMA inline bool tap_offsets(const TapRow<int32_t>& t, int64_t x, int32_t limit, __m256i* offsets) {
  for (int k = 0; k < 4; ++k) {
    offsets[k] = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(t.offset[k] + x));
    if (any_above(offsets[k], limit)) return false;
  }
  return true;
}

// warp_value 8 lanes at a time (the same roundings: a product, three fused multiply-adds, the fill blend's three
// ops, round half to even): the taps' values `v` weighted; the results as int32 lanes.
FL_AVX2_FMA inline __m256i blend8(const __m256* v, const TapRow<int32_t>& t, int64_t x, bool has_fill, float fill) {
  __m256 value = _mm256_mul_ps(v[0], _mm256_loadu_ps(t.weight[0] + x));
  for (int k = 1; k < 4; ++k) value = _mm256_fmadd_ps(v[k], _mm256_loadu_ps(t.weight[k] + x), value);
  if (has_fill) {
    const __m256 f = _mm256_set1_ps(fill);
    value = _mm256_add_ps(_mm256_mul_ps(_mm256_sub_ps(value, f), _mm256_loadu_ps(t.mask + x)), f);
  }
  return byte_stores::rounded_lanes(value);
}

// Bilinear, pixels x .. x + 7, all 3 interleaved channels (one gathered word a tap).
FL_AVX2_FMA inline bool bilinear_rgb8(const WarpAffineParams& p, const uint8_t* in, uint8_t* out, int64_t oc,
                                      int64_t ow, const TapRow<int32_t>& t, int64_t x, int32_t limit) {
  __m256i offsets[4], words[4];
  if (!tap_offsets(t, x, limit, offsets)) return false;
  for (int k = 0; k < 4; ++k) words[k] = _mm256_i32gather_epi32(reinterpret_cast<const int*>(in), offsets[k], 1);
  __m256i pixels = _mm256_setzero_si256();
  for (int ch = 0; ch < 3; ++ch) {
    const __m256 v[4] = {byte_of(words[0], ch), byte_of(words[1], ch), byte_of(words[2], ch), byte_of(words[3], ch)};
    pixels = _mm256_or_si256(pixels, _mm256_slli_epi32(blend8(v, t, x, p.has_fill, p.fill[ch]), 8 * ch));
  }
  byte_stores::store_pixels(out + x * ow, oc, ow, pixels);
  return true;
}

// Bilinear, pixels x .. x + 7 of one channel whose columns are at most 3 bytes apart (a plane: 1): a tap pair
// (nw, ne; sw, se) comes in one gathered word, the right tap `offset[1] - offset[0]` (0 where clamped) bytes after
// the left. `plane` is the channel's first source byte.
FL_AVX2_FMA inline bool bilinear_plane8(const uint8_t* plane, uint8_t* out, int64_t ow, const TapRow<int32_t>& t,
                                        int64_t x, int32_t limit, bool has_fill, float fill) {
  __m256i offsets[4];
  if (!tap_offsets(t, x, limit, offsets)) return false;
  const __m256i low = _mm256_set1_epi32(0xff);
  __m256 v[4];
  for (int row = 0; row < 2; ++row) {
    const __m256i left = offsets[2 * row], right = offsets[2 * row + 1];
    const __m256i word = _mm256_i32gather_epi32(reinterpret_cast<const int*>(plane), left, 1);
    const __m256i shift = _mm256_slli_epi32(_mm256_sub_epi32(right, left), 3);
    v[2 * row] = _mm256_cvtepi32_ps(_mm256_and_si256(word, low));
    v[2 * row + 1] = _mm256_cvtepi32_ps(_mm256_and_si256(_mm256_srlv_epi32(word, shift), low));
  }
  byte_stores::store_bytes(out + x * ow, ow, blend8(v, t, x, has_fill, fill));
  return true;
}

}  // namespace warp_avx2
#endif

}  // namespace fastload
