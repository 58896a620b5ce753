// mix_pairs: timm's batch-mode Mixup and CutMix on a float (N, C, H, W) batch, image i paired with image n - 1 - i
// (timm's x.flip(0)), in one pass that reads each pair once and writes both of its images, so the batch can be
// mixed in place. Shared by the CPU and CUDA kernels and matched by the PyTorch reference bit for bit.
#pragma once
#include <stdint.h>

#include "math/float_convert.h"
#include "math/macros.h"

namespace fastload {

struct MixPairsParams {
  const void* in;
  void* out;  // `in` itself when mixing in place: a pair is read whole before either image is written
  int64_t n, c, h, w;
  int64_t in_stride[4];  // n, c, h, w, in elements
  int64_t out_stride[4];
  float lam, rest;  // lam and 1 - lam (computed in double), each rounded to fp32 as torch rounds a Python scalar
  bool cut;         // CutMix: the box [y0, y1) x [x0, x1) swapped within each pair; else Mixup
  int64_t y0, y1, x0, x1;
  // The pixels visited: all of them, or (CutMix in place) only the box, the rest being unchanged.
  int64_t rows_first, rows, cols_first, cols;
  FloatDtype dtype;
};

// One Mixup value: a * lam + b * rest as timm's x.mul_(lam).add_(x.flip(0).mul_(1 - lam)) computes it, each product
// rounded to the storage type, then their sum (fp32 arithmetic, no fma: the builds use -ffp-contract=off and
// --fmad=false).
template <FloatDtype D>
FL_HOST_DEVICE FL_INLINE typename FloatTraits<D>::storage mix_value(float a, float b, float lam, float rest) {
  using T = FloatTraits<D>;
  const float scaled = T::to_float(T::from_float(a * lam));
  const float other = T::to_float(T::from_float(b * rest));
  return T::from_float(scaled + other);
}

// The two output values of one element of a pair (i, j) at (y, x): Mixup blends both ways; CutMix swaps inside the
// box and keeps each image's own value outside it.
template <FloatDtype D>
FL_HOST_DEVICE FL_INLINE void mix_element(const MixPairsParams& p, typename FloatTraits<D>::storage a,
                                          typename FloatTraits<D>::storage b, int64_t y, int64_t x,
                                          typename FloatTraits<D>::storage& out_a,
                                          typename FloatTraits<D>::storage& out_b) {
  using T = FloatTraits<D>;
  if (p.cut) {
    const bool inside = y >= p.y0 && y < p.y1 && x >= p.x0 && x < p.x1;
    out_a = inside ? b : a;
    out_b = inside ? a : b;
  } else {
    const float fa = T::to_float(a), fb = T::to_float(b);
    out_a = mix_value<D>(fa, fb, p.lam, p.rest);
    out_b = mix_value<D>(fb, fa, p.lam, p.rest);
  }
}

}  // namespace fastload
