// 8 values rounded to bytes (int32 lanes of 0 .. 255) and stored with AVX2: one channel's 8 bytes, or 8 pixels of 3
// channels (each lane R | G << 8 | B << 16) as interleaved pixels or through any strides. Shared by the warp and crop
// kernels' vector loops.
#pragma once
#include <stdint.h>
#include <string.h>

#include "cpu/isa.h"

#if FL_HAVE_AVX2_ROWS
namespace fastload {
namespace byte_stores {

// 8 values rounded half to even (nearbyintf's rounding, the default mode) and clamped to [0, 255], as int32 lanes.
FL_AVX2 inline __m256i rounded_lanes(__m256 v) {
  v = _mm256_round_ps(v, _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
  return _mm256_cvttps_epi32(_mm256_min_ps(_mm256_max_ps(v, _mm256_setzero_ps()), _mm256_set1_ps(255.0f)));
}

// The 8 lanes' values (0 .. 255) as 8 bytes, `ow` bytes apart from `px` on.
FL_AVX2 inline void store_bytes(uint8_t* px, int64_t ow, __m256i values) {
  const __m256i words = _mm256_packus_epi32(values, values);  // the packs keep the order within each 128-bit half
  const __m256i bytes = _mm256_packus_epi16(words, words);
  const uint64_t eight = static_cast<uint32_t>(_mm256_extract_epi32(bytes, 0)) |
                         static_cast<uint64_t>(static_cast<uint32_t>(_mm256_extract_epi32(bytes, 4))) << 32;
  if (ow == 1) {
    memcpy(px, &eight, 8);
  } else {
    for (int i = 0; i < 8; ++i) px[i * ow] = static_cast<uint8_t>(eight >> (8 * i));
  }
}

// 8 pixels, each lane R | G << 8 | B << 16 (the top byte ignored), stored from `px` on, pixels `ow` and channels
// `oc` bytes apart.
FL_AVX2 inline void store_pixels(uint8_t* px, int64_t oc, int64_t ow, __m256i pixels) {
  if (ow == 3 && oc == 1) {  // each half's 4 pixels packed into 12 bytes
    const __m256i packed =
        _mm256_shuffle_epi8(pixels, _mm256_setr_epi8(0, 1, 2, 4, 5, 6, 8, 9, 10, 12, 13, 14, -1, -1, -1, -1, 0, 1, 2, 4,
                                                     5, 6, 8, 9, 10, 12, 13, 14, -1, -1, -1, -1));
    const __m128i halves[2] = {_mm256_castsi256_si128(packed), _mm256_extracti128_si256(packed, 1)};
    for (int h = 0; h < 2; ++h) {
      _mm_storel_epi64(reinterpret_cast<__m128i*>(px + 12 * h), halves[h]);
      const int32_t tail = _mm_extract_epi32(halves[h], 2);
      memcpy(px + 12 * h + 8, &tail, 4);
    }
    return;
  }
  for (int ch = 0; ch < 3; ++ch) {
    store_bytes(px + ch * oc, ow, _mm256_and_si256(_mm256_srli_epi32(pixels, 8 * ch), _mm256_set1_epi32(0xff)));
  }
}

}  // namespace byte_stores
}  // namespace fastload
#endif
