// fastload::denormalize on the CPU: parallel over output rows, one pass. Rows whose input is planar (unit stride
// along W: contiguous or sliced CHW) take a loop GCC vectorizes (target_clones: AVX-512, AVX2, baseline); any other
// layout (channels_last, transposed) takes the scalar loop.
#include <ATen/Parallel.h>
#include <torch/library.h>

#include <algorithm>

#include "cpu/isa.h"
#include "fastload/denormalize_math.h"
#include "ops/denormalize.h"

namespace fastload {
namespace {

// One output row from C planar input rows (`planes[k]` = the row of the input channel output channel k reads).
template <FloatDtype D, int C>
FL_CPU_CLONES void planar_row(const typename FloatTraits<D>::storage* const* planes, uint8_t* __restrict out,
                              int64_t w, const float* mean, const float* std) {
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
        const S* planes[kMaxDenormChannels];
        for (int64_t k = 0; k < p.c; ++k) planes[k] = row + p.channel_map[k] * p.in_stride_c;
        if (p.c == 1) {
          planar_row<D, 1>(planes, out, p.w, p.mean, p.std);
        } else {
          planar_row<D, 3>(planes, out, p.w, p.mean, p.std);
        }
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
  const DenormalizeParams p = prepare_denormalize(x, mean, std, channel_map, out);
  dispatch_float_dtype(p.dtype, [&](auto d) { denormalize_cpu_kernel<decltype(d)::value>(p); });
  return out;
}

}  // namespace

TORCH_LIBRARY_IMPL(fastload, CPU, m) { m.impl("denormalize", &denormalize_cpu); }

}  // namespace fastload
