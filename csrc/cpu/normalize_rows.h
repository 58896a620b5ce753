// Row kernels of normalize on the CPU, shared by every op that writes normalized rows (normalize, pad_batch): one
// row of W uint8 pixels -> C output rows (planar) or one interleaved row (channels_last), each value
// normalize_value(x, mean, inv_std) rounded once to the output dtype.
//
// Runs of contiguous pixels (stride C, channels adjacent) take loops the compiler vectorizes; GCC's target_clones
// builds them for AVX-512, AVX2 and baseline x86-64 and picks one at load time, so a portable build is still fast.
// 3-channel planar rows have a hand-written AVX-512BW loop. Any other stride pattern takes the scalar loop.
// Everything here has internal linkage: each including .cpp gets its own copies and clone resolvers.
#pragma once
#include <stdint.h>

#include <algorithm>

#include "cpu/isa.h"
#include "math/normalize_math.h"

namespace fastload {
namespace {

// One output row (fixed n, h) when the input row is contiguous pixels. M0..M2 are the input channels that output
// channels 0..2 read; `plane` is H*W (the distance between output channels when planar).
template <FloatDtype D, int C, int M0, int M1, int M2, bool ChannelsLast>
FL_CPU_CLONES void contiguous_row(const uint8_t* __restrict in, typename FloatTraits<D>::storage* __restrict out,
                                  int64_t plane, int64_t w, const float* mean, const float* inv_std) {
  using T = FloatTraits<D>;
  const float m0 = mean[0], s0 = inv_std[0];
  if constexpr (C == 1) {
    for (int64_t x = 0; x < w; ++x) out[x] = T::from_float(normalize_value(in[x], m0, s0));
  } else {
    const float m1 = mean[1], s1 = inv_std[1], m2 = mean[2], s2 = inv_std[2];
    auto* __restrict o1 = out + (ChannelsLast ? 1 : plane);
    auto* __restrict o2 = out + (ChannelsLast ? 2 : 2 * plane);
    constexpr int step = ChannelsLast ? 3 : 1;
    for (int64_t x = 0; x < w; ++x) {
      const uint8_t* px = in + 3 * x;
      out[step * x] = T::from_float(normalize_value(px[M0], m0, s0));
      o1[step * x] = T::from_float(normalize_value(px[M1], m1, s1));
      o2[step * x] = T::from_float(normalize_value(px[M2], m2, s2));
    }
  }
}

#if FL_HAVE_AVX512_ROWS
// Hand-written AVX-512BW row for the most common case, 3 channels to planar output: ~25% faster than what GCC makes
// of contiguous_row (measured on Zen 4). Per 16 pixels: one 48-byte load, a dword permute that gives each 128-bit
// lane 4 whole pixels, a byte shuffle that groups each lane's bytes by channel, then per channel a dword gather,
// widening, the same fp32 sub/mul as normalize_value, and one store. The tail uses masked loads and stores.
template <FloatDtype D>
FL_AVX512 FL_INLINE void store16(typename FloatTraits<D>::storage* dst, __m512 v, __mmask16 mask) {
  if constexpr (D == FloatDtype::kFloat32) {
    _mm512_mask_storeu_ps(dst, mask, v);
  } else if constexpr (D == FloatDtype::kFloat16) {
    _mm256_mask_storeu_epi16(dst, mask, _mm512_cvtps_ph(v, _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC));
  } else {  // bf16, round to nearest even on the bits (values are never NaN here: inputs and spec are finite)
    const __m512i bits = _mm512_castps_si512(v);
    const __m512i lsb = _mm512_and_si512(_mm512_srli_epi32(bits, 16), _mm512_set1_epi32(1));
    const __m512i rounded =
        _mm512_srli_epi32(_mm512_add_epi32(bits, _mm512_add_epi32(lsb, _mm512_set1_epi32(0x7fff))), 16);
    _mm256_mask_storeu_epi16(dst, mask, _mm512_cvtepi32_epi16(rounded));
  }
}

// Reverse: the row is read right to left (a horizontally flipped numpy view, pixel stride -3): `in` points at the
// row's first output pixel, the highest address. Each 48-byte load then holds its 16 pixels in reverse order, which
// the lane permute (lanes taken last to first) and the byte shuffle (pixels within a lane last to first) undo.
template <FloatDtype D, bool Swap, bool Reverse = false>
FL_AVX512 void planar_row_avx512(const uint8_t* in, typename FloatTraits<D>::storage* out, int64_t plane, int64_t w,
                                 const float* mean, const float* inv_std) {
  const __m512i to_lanes = Reverse ? _mm512_setr_epi32(9, 10, 11, 11, 6, 7, 8, 8, 3, 4, 5, 5, 0, 1, 2, 2)
                                   : _mm512_setr_epi32(0, 1, 2, 2, 3, 4, 5, 5, 6, 7, 8, 8, 9, 10, 11, 11);
  const __m512i by_channel =
      Reverse ? _mm512_broadcast_i32x4(_mm_setr_epi8(9, 6, 3, 0, 10, 7, 4, 1, 11, 8, 5, 2, -1, -1, -1, -1))
              : _mm512_broadcast_i32x4(_mm_setr_epi8(0, 3, 6, 9, 1, 4, 7, 10, 2, 5, 8, 11, -1, -1, -1, -1));
  __m512i gather[3];
  __m512 m[3], s[3];
  for (int k = 0; k < 3; ++k) {
    const int src = Swap ? 2 - k : k;
    gather[k] = _mm512_setr_epi32(src, src + 4, src + 8, src + 12, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0);
    m[k] = _mm512_set1_ps(mean[k]);
    s[k] = _mm512_set1_ps(inv_std[k]);
  }
  for (int64_t x = 0; x < w; x += 16) {
    const int64_t count = std::min<int64_t>(16, w - x);
    const __mmask64 valid = count == 16 ? 0xffffffffffffull : (1ull << (3 * count)) - 1;
    const __mmask16 store_mask = static_cast<__mmask16>(count == 16 ? 0xffff : (1u << count) - 1);
    __m512i v;
    if constexpr (Reverse) {
      // Pixels x .. x+15 live at in - 3*(x+15) .. in - 3*x + 2; for a short tail only the top 3*count bytes are
      // loaded (masked-off bytes are never touched, so the start may lie before the image).
      const uintptr_t base = reinterpret_cast<uintptr_t>(in) - static_cast<uintptr_t>(3 * (x + 15));
      v = _mm512_maskz_loadu_epi8(valid << (48 - 3 * count), reinterpret_cast<const void*>(base));
    } else {
      v = _mm512_maskz_loadu_epi8(valid, in + 3 * x);
    }
    v = _mm512_shuffle_epi8(_mm512_permutexvar_epi32(to_lanes, v), by_channel);
    for (int k = 0; k < 3; ++k) {
      const __m128i bytes = _mm512_castsi512_si128(_mm512_permutexvar_epi32(gather[k], v));
      const __m512 f = _mm512_cvtepi32_ps(_mm512_cvtepu8_epi32(bytes));
      store16<D>(out + k * plane + x, _mm512_mul_ps(_mm512_sub_ps(f, m[k]), s[k]), store_mask);
    }
  }
}

#endif

template <FloatDtype D>
using RowFn = void (*)(const uint8_t*, typename FloatTraits<D>::storage*, int64_t, int64_t, const float*, const float*);

template <FloatDtype D>
RowFn<D> pick_row(int64_t c, bool swap, bool channels_last) {
  if (c == 1) return contiguous_row<D, 1, 0, 0, 0, false>;
  if (channels_last) return swap ? contiguous_row<D, 3, 2, 1, 0, true> : contiguous_row<D, 3, 0, 1, 2, true>;
#if FL_HAVE_AVX512_ROWS
  if (cpu_has_avx512bw_vl()) return swap ? planar_row_avx512<D, true> : planar_row_avx512<D, false>;
#endif
  return swap ? contiguous_row<D, 3, 2, 1, 0, false> : contiguous_row<D, 3, 0, 1, 2, false>;
}

// Normalizes rows of one op call: the vectorized row when pixels are contiguous (stride C, stride 1 between
// channels) and the channel map is identity or a swap, the scalar loop for any other strides.
template <FloatDtype D>
class RowNormalizer {
 public:
  using S = typename FloatTraits<D>::storage;

  RowNormalizer(int64_t c, const int* channel_map, const float* mean, const float* inv_std, bool channels_last)
      : c_(c), channel_map_(channel_map), mean_(mean), inv_std_(inv_std), channels_last_(channels_last) {
    const ChannelOrder order = classify_channels(channel_map, c);
    if (order == ChannelOrder::kOther) return;  // only the scalar loop reads arbitrary channel maps
    const bool swap = order == ChannelOrder::kSwap;
    fast_ = pick_row<D>(c, swap, channels_last);
#if FL_HAVE_AVX512_ROWS
    if (c == 3 && !channels_last && cpu_has_avx512bw_vl()) {
      reverse_ = swap ? planar_row_avx512<D, true, true> : planar_row_avx512<D, false, true>;
    }
#endif
  }

  // Whether rows with these strides (in bytes) take the vectorized loop.
  bool vectorized(int64_t stride_w, int64_t stride_c) const {
    return fast_ != nullptr && stride_w == c_ && stride_c == 1;
  }

  // `w` pixels from `in` (strides in bytes, may be negative) to `out`: channel 0 of the row's first pixel; `plane`
  // is the distance between output channels when planar.
  void operator()(const uint8_t* in, int64_t stride_w, int64_t stride_c, S* out, int64_t plane, int64_t w) const {
    if (vectorized(stride_w, stride_c)) {
      fast_(in, out, plane, w, mean_, inv_std_);
      return;
    }
    if (reverse_ != nullptr && stride_w == -c_ && stride_c == 1) {  // a horizontally flipped view
      reverse_(in, out, plane, w, mean_, inv_std_);
      return;
    }
    const int64_t pixel_step = channels_last_ ? c_ : 1;
    for (int64_t k = 0; k < c_; ++k) {
      const uint8_t* src = in + channel_map_[k] * stride_c;
      S* dst = out + (channels_last_ ? k : k * plane);
      const float m = mean_[k], s = inv_std_[k];
      for (int64_t x = 0; x < w; ++x)
        dst[x * pixel_step] = FloatTraits<D>::from_float(normalize_value(src[x * stride_w], m, s));
    }
  }

 private:
  int64_t c_;
  const int* channel_map_;
  const float* mean_;
  const float* inv_std_;
  bool channels_last_;
  RowFn<D> fast_ = nullptr;
  RowFn<D> reverse_ = nullptr;
};

}  // namespace
}  // namespace fastload
