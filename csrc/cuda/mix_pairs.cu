// fastload::mix_pairs CUDA kernel: a thread per group of 4 elements of a row of a pair (kernel.h's row_grid over
// pairs x channels x rows), loading both images' elements before storing either, so the batch can be mixed in
// place. Bytes moved: the batch read once and written once (CutMix in place: only the box). Loads and stores are
// scalar through the strides (a warp's 128 consecutive elements of a contiguous row stay coalesced); target 70% of a
// same-bytes copy, unmeasured (no GPU has run it). Torch-free (kernel.h only): the host compiler builds the same
// source for the CUDA emulation.
#include <stdint.h>

#include "cuda/kernel.h"
#include "cuda/launches.h"

namespace fastload {
namespace FL_KERNEL_NS {
namespace {

template <FloatDtype D>
struct MixPairsRows : SinglePhase {
  static constexpr const char* kName = "mix_pairs_rows";
  static FL_DEVICE void phase(int, const Thread& t, Shared&, const MixPairsParams& p) {
    using S = typename FloatTraits<D>::storage;
    const S* in = static_cast<const S*>(p.in);
    S* out = static_cast<S*>(p.out);
    for_each_group(t, (p.n + 1) / 2 * p.c * p.rows, p.cols, [&](int64_t row, int64_t c0, int count) {
      // 32-bit division (describe_mix_pairs keeps pairs x C x H under 2^31): a 64-bit one is a call, which needs a
      // stack frame.
      const uint32_t rows = static_cast<uint32_t>(p.rows), channels = static_cast<uint32_t>(p.c);
      const uint32_t kp = static_cast<uint32_t>(row) / rows, ip = kp / channels;
      const int64_t r = static_cast<uint32_t>(row) - kp * rows, k = kp - ip * channels, i = ip, j = p.n - 1 - i;
      const int64_t y = p.rows_first + r, x0 = p.cols_first + c0;
      const int64_t at_in = k * p.in_stride[1] + y * p.in_stride[2] + x0 * p.in_stride[3];
      const int64_t at_out = k * p.out_stride[1] + y * p.out_stride[2] + x0 * p.out_stride[3];
      const S* a = in + i * p.in_stride[0] + at_in;
      const S* b = in + j * p.in_stride[0] + at_in;
      S* oa = out + i * p.out_stride[0] + at_out;
      S* ob = out + j * p.out_stride[0] + at_out;
      // Element by element: both values of a pair element are loaded before either is stored (so in place too).
#pragma unroll
      for (int q = 0; q < 4; ++q) {
        if (q >= count) break;
        S va, vb;
        mix_element<D>(p, load(a + q * p.in_stride[3]), load(b + q * p.in_stride[3]), y, x0 + q, va, vb);
        store(oa + q * p.out_stride[3], va);
        if (i != j) store(ob + q * p.out_stride[3], vb);
      }
    });
  }
};

}  // namespace

void launch_mix_pairs(const MixPairsParams& p, cudaStream_t stream) {
  const int64_t rows = (p.n + 1) / 2 * p.c * p.rows;
  if (rows == 0 || p.cols == 0) return;
  dispatch_float_dtype(p.dtype,
                       [&](auto d) { launch<MixPairsRows<decltype(d)::value>>(row_grid(rows, p.cols), stream, p); });
}

}  // namespace FL_KERNEL_NS
}  // namespace fastload
