// fastload::denormalize on the CPU: parallel over output rows, one pass. Rows whose input is planar (unit stride
// along W: contiguous or sliced CHW) take a loop GCC vectorizes (target_clones: AVX-512, AVX2, baseline); any other
// layout (channels_last, transposed) takes the scalar loop.
#include <ATen/Parallel.h>
#include <torch/library.h>

#include <algorithm>

#include "cpu/isa.h"
#include "math/denormalize_math.h"
#include "ops/denormalize.h"
#include "memory/output.h"

namespace fastload {
namespace {

// One output row from C planar input rows (`planes[k]` = the row of the input channel output channel k reads).
template <FloatDtype D, int C>
FL_CPU_CLONES void planar_row(const typename FloatTraits<D>::storage* const* planes, uint8_t* __restrict out, int64_t w,
                              const float* mean, const float* std) {
  using T = FloatTraits<D>;
  const auto* __restrict p0 = planes[0];
  if constexpr (C == 1) {
    for (int64_t x = 0; x < w; ++x) out[x] = denormalize_value(T::to_float(p0[x]), std[0], mean[0]);
  } else {
    const auto* __restrict p1 = planes[1];
    const auto* __restrict p2 = planes[2];
    const float s0 = std[0], s1 = std[1], s2 = std[2], m0 = mean[0], m1 = mean[1], m2 = mean[2];
    for (int64_t x = 0; x < w; ++x) {
      out[3 * x] = denormalize_value(T::to_float(p0[x]), s0, m0);
      out[3 * x + 1] = denormalize_value(T::to_float(p1[x]), s1, m1);
      out[3 * x + 2] = denormalize_value(T::to_float(p2[x]), s2, m2);
    }
  }
}

#if FL_HAVE_AVX512_ROWS
// Hand-written AVX-512BW row for 3-channel planar input, the common case: per 16 pixels, each plane's values are
// widened to fp32, put through denormalize_value's exact steps (mul, add, clamp with NaN -> 0, add/sub 2^23 to
// round half to even), narrowed to 16 bytes; then a dword permute gives each 128-bit lane 4 pixels of all three
// channels, a byte shuffle interleaves them, a second permute packs the lanes into 48 bytes, one masked store.
template <FloatDtype D>
FL_AVX512 FL_INLINE __m512 load16(const typename FloatTraits<D>::storage* src, __mmask16 mask) {
  if constexpr (D == FloatDtype::kFloat32) {
    return _mm512_maskz_loadu_ps(mask, src);
  } else if constexpr (D == FloatDtype::kFloat16) {
    return _mm512_cvtph_ps(_mm256_maskz_loadu_epi16(mask, src));
  } else {
    const __m512i widened = _mm512_cvtepu16_epi32(_mm256_maskz_loadu_epi16(mask, src));
    return _mm512_castsi512_ps(_mm512_slli_epi32(widened, 16));
  }
}

template <FloatDtype D>
FL_AVX512 void planar_row3_avx512(const typename FloatTraits<D>::storage* const* planes, uint8_t* out, int64_t w,
                                  const float* mean, const float* std) {
  const __m512 zero = _mm512_setzero_ps(), top = _mm512_set1_ps(255.0f), round = _mm512_set1_ps(8388608.0f);
  const __m512i to_lanes = _mm512_setr_epi32(0, 4, 8, 0, 1, 5, 9, 0, 2, 6, 10, 0, 3, 7, 11, 0);
  const __m512i interleave =
      _mm512_broadcast_i32x4(_mm_setr_epi8(0, 4, 8, 1, 5, 9, 2, 6, 10, 3, 7, 11, -1, -1, -1, -1));
  const __m512i pack = _mm512_setr_epi32(0, 1, 2, 4, 5, 6, 8, 9, 10, 12, 13, 14, 0, 0, 0, 0);
  for (int64_t x = 0; x < w; x += 16) {
    const int64_t count = std::min<int64_t>(16, w - x);
    const __mmask16 mask = static_cast<__mmask16>(count == 16 ? 0xffff : (1u << count) - 1);
    __m128i bytes[3];
    for (int k = 0; k < 3; ++k) {
      __m512 v =
          _mm512_add_ps(_mm512_mul_ps(load16<D>(planes[k] + x, mask), _mm512_set1_ps(std[k])), _mm512_set1_ps(mean[k]));
      v = _mm512_min_ps(_mm512_max_ps(v, zero), top);  // vmaxps returns its second operand for NaN: NaN -> 0
      v = _mm512_sub_ps(_mm512_add_ps(v, round), round);
      bytes[k] = _mm512_cvtepi32_epi8(_mm512_cvttps_epi32(v));
    }
    __m512i z = _mm512_inserti32x4(_mm512_castsi128_si512(bytes[0]), bytes[1], 1);
    z = _mm512_inserti32x4(z, bytes[2], 2);
    z = _mm512_permutexvar_epi32(pack, _mm512_shuffle_epi8(_mm512_permutexvar_epi32(to_lanes, z), interleave));
    const __mmask64 store = count == 16 ? 0xffffffffffffull : (1ull << (3 * count)) - 1;
    _mm512_mask_storeu_epi8(out + 3 * x, store, z);
  }
}
#endif

template <FloatDtype D>
void denormalize_cpu_kernel(const DenormalizeParams& p) {
  using T = FloatTraits<D>;
  using S = typename T::storage;
  if (p.n * p.h * p.w == 0) return;
  const S* in = static_cast<const S*>(p.in);
  const bool planar = p.in_stride_w == 1;
  const int64_t grain = std::max<int64_t>(1, 32768 / (p.w * p.c));
  at::parallel_for(0, p.n * p.h, grain, [&](int64_t begin, int64_t end) {
    for (int64_t r = begin; r < end; ++r) {
      const int64_t n = r / p.h, y = r % p.h;
      const S* row = in + n * p.in_stride_n + y * p.in_stride_h;
      uint8_t* out = p.out + r * p.w * p.c;
      if (planar) {
        const S* planes[kMaxChannels];
        for (int64_t k = 0; k < p.c; ++k) planes[k] = row + p.channel_map[k] * p.in_stride_c;
        if (p.c == 1) {
          planar_row<D, 1>(planes, out, p.w, p.mean, p.std);
          continue;
        }
#if FL_HAVE_AVX512_ROWS
        if (cpu_has_avx512bw_vl()) {
          planar_row3_avx512<D>(planes, out, p.w, p.mean, p.std);
          continue;
        }
#endif
        planar_row<D, 3>(planes, out, p.w, p.mean, p.std);
        continue;
      }
      for (int64_t x = 0; x < p.w; ++x) {
        for (int64_t k = 0; k < p.c; ++k) {
          const S v = row[x * p.in_stride_w + p.channel_map[k] * p.in_stride_c];
          out[x * p.c + k] = denormalize_value(T::to_float(v), p.std[k], p.mean[k]);
        }
      }
    }
  });
}

at::Tensor denormalize_cpu(const at::Tensor& x, at::ArrayRef<double> mean, at::ArrayRef<double> std,
                           at::IntArrayRef channel_map) {
  at::Tensor out;
  const DenormalizeParams p = describe_denormalize(x, mean, std, channel_map, out);
  dispatch_float_dtype(p.dtype, [&](auto d) { denormalize_cpu_kernel<decltype(d)::value>(p); });
  return out;
}

}  // namespace

TORCH_LIBRARY_IMPL(fastload, CPU, m) {
  m.impl("denormalize", &denormalize_cpu);
  m.impl("denormalize_into", &Into<kDenormalizeInto, &denormalize_cpu>::run);
}

}  // namespace fastload
