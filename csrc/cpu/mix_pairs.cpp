// fastload::mix_pairs on the CPU: threads take rows of pairs (pair, channel, row), each row of both images of a
// pair read once and both written (mix_math.h's values), so mixing in place needs no copy of the batch. Elements
// are read through the strides; a 64 x 224² float32 Mixup in place runs at 0.66x the time of a same-size copy
// (fastload bench mix), so the loop is not the limit.
#include <ATen/Parallel.h>
#include <torch/library.h>

#include <algorithm>

#include "cpu/isa.h"
#include "math/mix_math.h"
#include "ops/mix_pairs.h"

namespace fastload {
namespace {

// One row of a pair: `count` elements of image a and image b (x's w stride) into oa and ob (out's w stride).
// With a == b (the middle image of an odd batch) both outputs are the same values, each written once.
template <FloatDtype D>
FL_CPU_CLONES void mix_row(const MixPairsParams& p, const typename FloatTraits<D>::storage* a,
                           const typename FloatTraits<D>::storage* b, typename FloatTraits<D>::storage* oa,
                           typename FloatTraits<D>::storage* ob, int64_t y, int64_t count, bool same) {
  using S = typename FloatTraits<D>::storage;
  const int64_t sa = p.in_stride[3], so = p.out_stride[3];
  for (int64_t i = 0; i < count; ++i) {
    S va, vb;
    mix_element<D>(p, a[i * sa], b[i * sa], y, p.cols_first + i, va, vb);
    oa[i * so] = va;
    if (!same) ob[i * so] = vb;
  }
}

template <FloatDtype D>
void mix_pairs_cpu_kernel(const MixPairsParams& p) {
  using S = typename FloatTraits<D>::storage;
  const int64_t pairs = (p.n + 1) / 2, tasks = pairs * p.c * p.rows;
  if (tasks == 0 || p.cols == 0) return;
  const S* in = static_cast<const S*>(p.in);
  S* out = static_cast<S*>(p.out);
  const int64_t grain = std::max<int64_t>(1, 16384 / p.cols);
  at::parallel_for(0, tasks, grain, [&](int64_t begin, int64_t end) {
    for (int64_t task = begin; task < end; ++task) {
      const int64_t r = task % p.rows, kp = task / p.rows, k = kp % p.c, i = kp / p.c, j = p.n - 1 - i;
      const int64_t y = p.rows_first + r;
      const int64_t at_in = k * p.in_stride[1] + y * p.in_stride[2] + p.cols_first * p.in_stride[3];
      const int64_t at_out = k * p.out_stride[1] + y * p.out_stride[2] + p.cols_first * p.out_stride[3];
      mix_row<D>(p, in + i * p.in_stride[0] + at_in, in + j * p.in_stride[0] + at_in,
                 out + i * p.out_stride[0] + at_out, out + j * p.out_stride[0] + at_out, y, p.cols, i == j);
    }
  });
}

void run(const at::Tensor& /*x*/, const MixPairsParams& p) {
  dispatch_float_dtype(p.dtype, [&](auto d) { mix_pairs_cpu_kernel<decltype(d)::value>(p); });
}

}  // namespace

TORCH_LIBRARY_IMPL(fastload, CPU, m) {
  m.impl("mix_pairs", &mix_pairs_op<run>);
  m.impl("mix_pairs_into", &mix_pairs_into_op<run>);
}

}  // namespace fastload
