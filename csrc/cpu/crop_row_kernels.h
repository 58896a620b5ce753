// The loops of the crop kernel's horizontal pass (crop_columns.h), for crop_columns.cpp only: one source row summed
// with an image's column taps, byte by byte (portable), or from AVX2 shuffle windows of pixel words or of the row's
// channel planes (the AVX-512 VBMI loops: crop_row_kernels_vbmi.h). Internal linkage, as normalize_rows.h.
#pragma once

#include <algorithm>
#include <cstdint>

#include "cpu/crop_columns.h"
#include "cpu/isa.h"
#include "math/macros.h"

namespace fastload {
namespace {

constexpr int64_t kMaxParts = 6;  // 16-byte parts of a shuffle window (8 lanes): up to 96 bytes

// What one row's loops read and write.
struct Row {
  const uint8_t* bytes;  // the row's first byte (the portable loop adds channel offsets)
  const uint8_t* words;  // the row's first word (bytes + word offset): tap entry i's word is at words + offsets[i]
  const ColumnTaps* t;
  const RowTaps::Windows* w;
  const int32_t* offsets;
  const int32_t* shifts;
  const int64_t* channel_offsets;
  int64_t stride_w;
  float* out;
  int64_t plane;
  int64_t valid_lo, valid_hi;  // the image's bytes, relative to `words`
  bool gather_ok;              // every word of this row lies inside the image
};

// Lanes l0 .. l1 - 1 of group g, one byte at a time.
template <int C>
void group_bytes(const Row& r, int64_t g, int64_t l0, int64_t l1) {
  const ColumnTaps& t = *r.t;
  for (int64_t l = l0; l < l1; ++l) {
    float acc[C] = {};
    for (int64_t j = 0; j < t.taps[g]; ++j) {
      const size_t i = (t.first[g] + j) * kLanes + l;
      const uint8_t* px = r.bytes + t.columns[i] * r.stride_w;
      for (int k = 0; k < C; ++k) acc[k] += t.weights[i] * static_cast<float>(px[r.channel_offsets[k]]);
    }
    for (int k = 0; k < C; ++k) r.out[k * r.plane + g * kLanes + l] = acc[k];
  }
}

template <int C>
void row_bytes(const Row& r) {
  for (int64_t g = 0; g < r.t->groups; ++g) group_bytes<C>(r, g, 0, kLanes);
}

#if FL_HAVE_AVX2_ROWS
// acc[k] += w * (byte shifts[k] / 8 of each word), the products and sums of group_bytes.
template <int C>
FL_AVX2 inline void add_words8(__m256i words, __m256 w, const __m256i* shift, __m256* acc) {
  const __m256i byte = _mm256_set1_epi32(0xFF);
  for (int k = 0; k < C; ++k) {
    const __m256 v = _mm256_cvtepi32_ps(_mm256_and_si256(_mm256_srlv_epi32(words, shift[k]), byte));
    acc[k] = _mm256_add_ps(acc[k], _mm256_mul_ps(w, v));
  }
}

// Tap entry e's 8 lanes (pixel words, or zero-extended plane bytes) of a half whose window is P 16-byte parts
// (broadcast in `part`): one shuffle per part, OR-ed (indices of bytes outside a part are 0x80, which shuffles in 0).
template <int P>
FL_AVX2 inline __m256i shuffled_words(const __m256i* part, const uint8_t* index) {
  __m256i words = _mm256_shuffle_epi8(part[0], _mm256_loadu_si256(reinterpret_cast<const __m256i*>(index)));
  for (int p = 1; p < P; ++p)
    words = _mm256_or_si256(
        words, _mm256_shuffle_epi8(part[p], _mm256_loadu_si256(reinterpret_cast<const __m256i*>(index + 32 * p))));
  return words;
}

// Half `half` (8 lanes) of group g with a P-part window (P = 0: its words gathered).
template <int C, int P>
FL_AVX2 void half_parts(const Row& r, int64_t g, int64_t half) {
  const ColumnTaps& t = *r.t;
  const int64_t h = g * 2 + half;
  __m256i shift[C];
  for (int k = 0; k < C; ++k) shift[k] = _mm256_set1_epi32(r.shifts[k]);
  __m256i part[P > 0 ? P : 1];
  for (int p = 0; p < P; ++p)
    part[p] =
        _mm256_broadcastsi128_si256(_mm_loadu_si128(reinterpret_cast<const __m128i*>(r.words + r.w->lo[h] + 16 * p)));
  __m256 acc[C];
  for (int k = 0; k < C; ++k) acc[k] = _mm256_setzero_ps();
  for (int64_t j = 0; j < t.taps[g]; ++j) {
    const int64_t e = t.first[g] + j;
    __m256i words;
    if constexpr (P == 0) {
      const __m256i at = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(r.offsets + e * kLanes + half * 8));
      words = _mm256_i32gather_epi32(reinterpret_cast<const int*>(r.words), at, 1);
    } else {
      words = shuffled_words<P>(part, r.w->index.data() + (e * 2 + half) * kMaxParts * 32);
    }
    add_words8<C>(words, _mm256_loadu_ps(t.weights.data() + e * kLanes + half * 8), shift, acc);
  }
  for (int k = 0; k < C; ++k) _mm256_storeu_ps(r.out + k * r.plane + g * kLanes + half * 8, acc[k]);
}

// Half `half` (8 lanes) of group g: its words shuffled out of the window's 16-byte parts, or gathered (a window too
// wide), or read byte by byte (a word that would pass the image's edge).
template <int C>
FL_AVX2 void half_avx2(const Row& r, int64_t g, int64_t half) {
  switch (r.w->parts[g * 2 + half]) {
    case 0:
      return r.gather_ok ? half_parts<C, 0>(r, g, half) : group_bytes<C>(r, g, half * 8, half * 8 + 8);
    case 1:
      return half_parts<C, 1>(r, g, half);
    case 2:
      return half_parts<C, 2>(r, g, half);
    case 3:
      return half_parts<C, 3>(r, g, half);
    case 4:
      return half_parts<C, 4>(r, g, half);
    case 5:
      return half_parts<C, 5>(r, g, half);
    default:
      return half_parts<C, kMaxParts>(r, g, half);
  }
}

// Every half with the image's widest window, P parts (halves with narrower windows shuffle zeros out of the parts
// past theirs): one loop with no per-half dispatch, whose branch on the part count mispredicts when counts mix.
template <int C, int P>
FL_AVX2 void row_parts(const Row& r) {
  for (int64_t g = 0; g < r.t->groups; ++g) {
    half_parts<C, P>(r, g, 0);
    half_parts<C, P>(r, g, 1);
  }
}

template <int C>
FL_AVX2 void row_avx2(const Row& r) {
  switch (r.w->uniform_parts) {
    case 1:
      return row_parts<C, 1>(r);
    case 2:
      return row_parts<C, 2>(r);
    case 3:
      return row_parts<C, 3>(r);
    case 4:
      return row_parts<C, 4>(r);
    case 5:
      return row_parts<C, 5>(r);
    case kMaxParts:
      return row_parts<C, kMaxParts>(r);
    default:
      for (int64_t g = 0; g < r.t->groups; ++g) {
        half_avx2<C>(r, g, 0);
        half_avx2<C>(r, g, 1);
      }
  }
}

// The byte shuffles of split_planes for channel picks `picks`: index[k][part] gives plane k's bytes out of the
// part-th 16 bytes of 16 pixels (0x80 where they lie in another part). Built once an image: built per row, the
// byte stores and the 16-byte loads of them stalled (a load cannot take its bytes from several smaller stores).
inline void plane_split_index(const int32_t* picks, uint8_t (*index)[3][16]) {
  for (int k = 0; k < 3; ++k)
    for (int part = 0; part < 3; ++part)
      for (int i = 0; i < 16; ++i) {
        const int at = 3 * i + picks[k] - 16 * part;
        index[k][part][i] = at >= 0 && at < 16 ? static_cast<uint8_t>(at) : 0x80;
      }
}

// Pixels 0 .. count - 1 of a row of 3-byte pixels (`words`: the first one's lowest byte) split into three byte
// planes, plane k holding byte picks[k] of each pixel: 32 pixels at a time, 16 in each 128-bit lane (three 16-byte
// loads a lane), each plane's bytes shuffled out of the three loads (plane_split_index's `index`) and OR-ed.
FL_AVX2 void split_planes(const uint8_t* words, int64_t count, const int32_t* picks, const uint8_t (*index)[3][16],
                          uint8_t* const* planes) {
  __m256i pick[3][3];
  for (int k = 0; k < 3; ++k)
    for (int part = 0; part < 3; ++part)
      pick[k][part] = _mm256_broadcastsi128_si256(_mm_loadu_si128(reinterpret_cast<const __m128i*>(index[k][part])));
  uint8_t* const plane[3] = {planes[0], planes[1], planes[2]};  // locals: a store may not alias them (reloaded)
  int64_t x = 0;
  for (; x + 32 <= count; x += 32) {
    const uint8_t* at = words + 3 * x;
    __m256i load[3];
    for (int part = 0; part < 3; ++part)  // lane 0: pixels x .. x + 15, lane 1: x + 16 .. x + 31
      load[part] = _mm256_loadu2_m128i(reinterpret_cast<const __m128i*>(at + 48 + 16 * part),
                                       reinterpret_cast<const __m128i*>(at + 16 * part));
    for (int k = 0; k < 3; ++k) {
      const __m256i v = _mm256_or_si256(
          _mm256_or_si256(_mm256_shuffle_epi8(load[0], pick[k][0]), _mm256_shuffle_epi8(load[1], pick[k][1])),
          _mm256_shuffle_epi8(load[2], pick[k][2]));
      _mm256_storeu_si256(reinterpret_cast<__m256i*>(plane[k] + x), v);
    }
  }
  for (; x < count; ++x)
    for (int k = 0; k < 3; ++k) plane[k][x] = words[3 * x + picks[k]];
}

// Halves first .. first + H - 1 (8 lanes each) of group g from the row's three channel planes, each window P
// 16-byte parts: per tap and channel the lanes' bytes shuffled out zero-extended (no word to take apart), then the
// products and sums of group_bytes. Both halves of a group share its tap count: with one-part windows they run in one
// loop (six sums in flight instead of three; wider windows would not fit the 16 registers). Inlined into its row
// loop: windows of 2 or more parts were a call per 8 columns (a realigned stack, the sums stored and reloaded,
// vzeroupper).
template <int P, int H>
FL_AVX2 FL_INLINE void halves_planes(const Row& r, const uint8_t* const* planes, int64_t g, int64_t first) {
  const ColumnTaps& t = *r.t;
  __m256i part[H][3][P];
  __m256 acc[H][3];
  for (int u = 0; u < H; ++u)
    for (int k = 0; k < 3; ++k) {
      acc[u][k] = _mm256_setzero_ps();
      for (int p = 0; p < P; ++p)
        part[u][k][p] = _mm256_broadcastsi128_si256(
            _mm_loadu_si128(reinterpret_cast<const __m128i*>(planes[k] + r.w->lo[g * 2 + first + u] + 16 * p)));
    }
  const uint8_t* const index = r.w->index.data();
  const float* const weights = t.weights.data();
  for (int64_t e = t.first[g]; e < t.first[g] + t.taps[g]; ++e)
    for (int u = 0; u < H; ++u) {
      const uint8_t* at = index + (e * 2 + first + u) * kMaxParts * 32;
      const __m256 w = _mm256_loadu_ps(weights + e * kLanes + (first + u) * 8);
      for (int k = 0; k < 3; ++k)
        acc[u][k] = _mm256_add_ps(acc[u][k], _mm256_mul_ps(w, _mm256_cvtepi32_ps(shuffled_words<P>(part[u][k], at))));
    }
  for (int u = 0; u < H; ++u)
    for (int k = 0; k < 3; ++k) _mm256_storeu_ps(r.out + k * r.plane + g * kLanes + (first + u) * 8, acc[u][k]);
}

template <int P>
FL_AVX2 void row_planes(const Row& r, const uint8_t* const* planes) {
  for (int64_t g = 0; g < r.t->groups; ++g) {
    if constexpr (P == 1) {
      halves_planes<P, 2>(r, planes, g, 0);
    } else {
      halves_planes<P, 1>(r, planes, g, 0);
      halves_planes<P, 1>(r, planes, g, 1);
    }
  }
}

#endif

}  // namespace
}  // namespace fastload
