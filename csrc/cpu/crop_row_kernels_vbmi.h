// The AVX-512 VBMI loops of the crop kernel's horizontal pass (crop_columns.h), for crop_columns.cpp only: one
// source row summed with an image's column taps from byte permutes of windows of pixel words or of the row's channel
// planes. Internal linkage, as crop_row_kernels.h, whose Row and byte loop they share.
#pragma once

#include <algorithm>
#include <cstdint>

#include "cpu/crop_row_kernels.h"

namespace fastload {
namespace {

constexpr int64_t kPermuteBytes = 128;  // a VBMI window: two 64-byte registers

#if FL_HAVE_AVX2_ROWS
// Bits k of a 64-byte load at `start` whose bytes start + k lie in [lo, hi].
inline uint64_t byte_mask(int64_t start, int64_t lo, int64_t hi) {
  const int64_t from = std::max<int64_t>(lo - start, 0), to = std::min<int64_t>(hi - start, 63);
  return from > to ? 0 : (~uint64_t{0} >> (63 - (to - from))) << from;
}

// Group g (16 lanes): its words permuted out of a 128-byte window (near the image's edges by masked loads: the
// bytes outside the image read as 0 and are never used), or gathered, or read byte by byte. The window and gather
// paths are separate loops over locals: with both in one loop the compiler kept the sums in memory as well (three
// 64-byte stores a tap) and reloaded the tables' pointers each tap.
template <int C>
FL_AVX512_VBMI FL_INLINE void group_vbmi(const Row& r, int64_t g) {
  const ColumnTaps& t = *r.t;
  const bool window = r.w->parts[g] != 0;
  if (!window && !r.gather_ok) return group_bytes<C>(r, g, 0, kLanes);
  const int64_t e0 = t.first[g], e1 = e0 + t.taps[g];
  const float* const weights = t.weights.data();
  __m512 acc[C];
  for (int k = 0; k < C; ++k) acc[k] = _mm512_setzero_ps();
  if (window) {
    const int64_t lo = r.w->lo[g];
    __m512i a, b;
    if (lo >= r.valid_lo && lo + kPermuteBytes - 1 <= r.valid_hi) {  // most rows: plain loads (masked ones are slow)
      a = _mm512_loadu_si512(r.words + lo);
      b = _mm512_loadu_si512(r.words + lo + 64);
    } else {
      a = _mm512_maskz_loadu_epi8(byte_mask(lo, r.valid_lo, r.valid_hi), r.words + lo);
      b = _mm512_maskz_loadu_epi8(byte_mask(lo + 64, r.valid_lo, r.valid_hi), r.words + lo + 64);
    }
    const uint8_t* const index = r.w->index.data();
    for (int64_t e = e0; e < e1; ++e) {  // channel k's byte of each lane's word, zero-extended by the permute's mask
      const __m512 w = _mm512_loadu_ps(weights + e * kLanes);
      for (int k = 0; k < C; ++k) {
        const __m512i bytes =
            _mm512_maskz_permutex2var_epi8(0x1111111111111111ull, a, _mm512_loadu_si512(index + (e * C + k) * 64), b);
        acc[k] = _mm512_add_ps(acc[k], _mm512_mul_ps(w, _mm512_cvtepi32_ps(bytes)));
      }
    }
  } else {
    const __m512i byte = _mm512_set1_epi32(0xFF);
    __m512i shift[C];
    for (int k = 0; k < C; ++k) shift[k] = _mm512_set1_epi32(r.shifts[k]);
    const int32_t* const offsets = r.offsets;
    const uint8_t* const words = r.words;
    for (int64_t e = e0; e < e1; ++e) {
      const __m512 w = _mm512_loadu_ps(weights + e * kLanes);
      const __m512i v = _mm512_i32gather_epi32(_mm512_loadu_si512(offsets + e * kLanes), words, 1);
      for (int k = 0; k < C; ++k) {
        const __m512 x = _mm512_cvtepi32_ps(_mm512_and_si512(_mm512_srlv_epi32(v, shift[k]), byte));
        acc[k] = _mm512_add_ps(acc[k], _mm512_mul_ps(w, x));
      }
    }
  }
  for (int k = 0; k < C; ++k) _mm512_storeu_ps(r.out + k * r.plane + g * kLanes, acc[k]);
}

template <int C>
FL_AVX512_VBMI void row_vbmi(const Row& r) {
  for (int64_t g = 0; g < r.t->groups; ++g) group_vbmi<C>(r, g);
}

// The permutes of split_planes_vbmi for channel picks `picks`: plane k's byte i is byte 3i + picks[k] of 64 pixels'
// 192 bytes, index[k][0] picking it out of the first 128 (a register pair), index[k][1] out of the last 64 where bit
// i of high[k] is set.
inline void plane_split_index_vbmi(const int32_t* picks, uint8_t (*index)[2][64], uint64_t* high) {
  for (int k = 0; k < 3; ++k) {
    high[k] = 0;
    for (int i = 0; i < 64; ++i) {
      const int at = 3 * i + picks[k];
      index[k][0][i] = static_cast<uint8_t>(at < 128 ? at : 0);
      index[k][1][i] = static_cast<uint8_t>(at < 128 ? 0 : at - 128);
      if (at >= 128) high[k] |= uint64_t{1} << i;
    }
  }
}

// split_planes on AVX-512 VBMI: 64 pixels at a time, three 64-byte loads and two permutes a plane; the last pixels
// by masked loads and stores (no byte past the row's last pixel is read).
FL_AVX512_VBMI void split_planes_vbmi(const uint8_t* words, int64_t count, const uint8_t (*index)[2][64],
                                      const uint64_t* high, uint8_t* const* planes) {
  __m512i first[3], last[3];
  for (int k = 0; k < 3; ++k) {
    first[k] = _mm512_loadu_si512(index[k][0]);
    last[k] = _mm512_loadu_si512(index[k][1]);
  }
  uint8_t* const plane[3] = {planes[0], planes[1], planes[2]};
  for (int64_t x = 0; x < count; x += 64) {
    const uint8_t* at = words + 3 * x;
    const int64_t n = std::min<int64_t>(64, count - x);
    __m512i load[3];
    for (int part = 0; part < 3; ++part)
      load[part] = n == 64 ? _mm512_loadu_si512(at + 64 * part)
                           : _mm512_maskz_loadu_epi8(byte_mask(64 * part, 0, 3 * n - 1), at + 64 * part);
    for (int k = 0; k < 3; ++k) {
      const __m512i v =
          _mm512_mask_permutexvar_epi8(_mm512_permutex2var_epi8(load[0], first[k], load[1]), high[k], last[k], load[2]);
      if (n == 64) {
        _mm512_storeu_si512(plane[k] + x, v);
      } else {
        _mm512_mask_storeu_epi8(plane[k] + x, byte_mask(0, 0, n - 1), v);
      }
    }
  }
}

// Group g from the row's three channel planes, each window P 64-byte registers (1: a one-register permute, 2: a pair):
// per tap one index (the lanes' positions, shared by the planes) and per channel a permute that zero-extends each
// lane's byte, then the products and sums of group_bytes.
template <int P>
FL_AVX512_VBMI FL_INLINE void group_planes_vbmi(const Row& r, const uint8_t* const* planes, int64_t g) {
  const ColumnTaps& t = *r.t;
  const int64_t lo = r.w->lo[g];
  __m512i a[3], b[3];
  __m512 acc[3];
  for (int k = 0; k < 3; ++k) {
    a[k] = _mm512_loadu_si512(planes[k] + lo);
    b[k] = P == 2 ? _mm512_loadu_si512(planes[k] + lo + 64) : a[k];
    acc[k] = _mm512_setzero_ps();
  }
  const uint8_t* const index = r.w->index.data();
  const float* const weights = t.weights.data();
  for (int64_t e = t.first[g]; e < t.first[g] + t.taps[g]; ++e) {
    const __m512 w = _mm512_loadu_ps(weights + e * kLanes);
    const __m512i at = _mm512_loadu_si512(index + e * 64);
    for (int k = 0; k < 3; ++k) {
      const __m512i bytes = P == 1 ? _mm512_maskz_permutexvar_epi8(0x1111111111111111ull, at, a[k])
                                   : _mm512_maskz_permutex2var_epi8(0x1111111111111111ull, a[k], at, b[k]);
      acc[k] = _mm512_add_ps(acc[k], _mm512_mul_ps(w, _mm512_cvtepi32_ps(bytes)));
    }
  }
  for (int k = 0; k < 3; ++k) _mm512_storeu_ps(r.out + k * r.plane + g * kLanes, acc[k]);
}

template <int P>
FL_AVX512_VBMI void row_planes_vbmi(const Row& r, const uint8_t* const* planes) {
  for (int64_t g = 0; g < r.t->groups; ++g) group_planes_vbmi<P>(r, planes, g);
}
#endif

}  // namespace
}  // namespace fastload
