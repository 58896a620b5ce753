// fastload::normalize on the CPU: parallel over pixel blocks or image rows (at::parallel_for), one pass; the row
// kernels live in normalize_rows.h.
#include <ATen/Parallel.h>

#include <torch/library.h>

#include <algorithm>

#include "cpu/normalize_rows.h"
#include "math/normalize_math.h"
#include "ops/normalize.h"

namespace fastload {
namespace {

// Contiguous images (the common case) are processed as one long run of pixels per image, split into blocks of
// kBlock pixels across threads: no per-row loop tails, and rows of any width vectorize fully.
constexpr int64_t kBlock = 8192;

template <FloatDtype D>
void normalize_cpu_kernel(const NormalizeParams& p) {
  using T = FloatTraits<D>;
  using S = typename T::storage;
  const int64_t plane = p.h * p.w;
  if (p.n == 0 || plane == 0) return;
  const RowNormalizer<D> rows(p.c, p.channel_map, p.mean, p.inv_std, p.channels_last);
  const bool image_contiguous =
      rows.vectorized(p.in_stride_w, p.in_stride_c) && (p.h == 1 || p.in_stride_h == p.w * p.c);
  S* const out = static_cast<S*>(p.out);
  // Output position of pixel `pixel` (flat index within image n) in channel 0.
  auto out_at = [&](int64_t n, int64_t pixel) {
    return p.channels_last ? out + (n * plane + pixel) * p.c : out + n * p.c * plane + pixel;
  };

  if (image_contiguous) {
    const int64_t blocks_per_image = (plane + kBlock - 1) / kBlock;
    at::parallel_for(0, p.n * blocks_per_image, 1, [&](int64_t begin, int64_t end) {
      for (int64_t b = begin; b < end; ++b) {
        const int64_t n = b / blocks_per_image;
        const int64_t first = (b - n * blocks_per_image) * kBlock;
        const int64_t count = std::min(kBlock, plane - first);
        rows(p.in + n * p.in_stride_n + first * p.c, p.c, 1, out_at(n, first), plane, count);
      }
    });
    return;
  }

  // ~32K output elements per task: large enough to amortise scheduling, small enough to balance the cores.
  const int64_t grain = std::max<int64_t>(1, 32768 / (p.w * p.c));
  at::parallel_for(0, p.n * p.h, grain, [&](int64_t begin, int64_t end) {
    for (int64_t r = begin; r < end; ++r) {
      const int64_t n = r / p.h, y = r % p.h;
      rows(p.in + n * p.in_stride_n + y * p.in_stride_h, p.in_stride_w, p.in_stride_c, out_at(n, y * p.w), plane, p.w);
    }
  });
}

void run(const at::Tensor& /*img*/, const NormalizeParams& p) {
  dispatch_float_dtype(p.dtype, [&](auto d) { normalize_cpu_kernel<decltype(d)::value>(p); });
}

}  // namespace

TORCH_LIBRARY_IMPL(fastload, CPU, m) {
  m.impl("normalize", &normalize_op<run>);
  m.impl("normalize_into", &normalize_into_op<run>);
}

}  // namespace fastload
