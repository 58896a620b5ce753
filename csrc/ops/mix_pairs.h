// fastload::mix_pairs / mix_pairs_into: the argument checks shared by every backend's kernel.
#pragma once
#include <ATen/core/Tensor.h>

#include "math/mix_math.h"

namespace fastload {

// Checks x (float32/16/bf16 (N, C, H, W), any non-negative strides), lam in [0, 1] and box ([] or [y0, y1, x0, x1]
// inside the image), and describes the call reading x; the output is bound by bind_mix_pairs_output.
MixPairsParams describe_mix_pairs(const char* op, const at::Tensor& x, double lam, at::IntArrayRef box);

// A new tensor like x: channels_last strides if x has them, else contiguous (from the CPU output cache on the CPU).
at::Tensor new_mix_pairs_output(const at::Tensor& x);

// Points p at `out`: x's shape, dtype and device, and either x itself (in place: the same storage, offset and
// strides) or a tensor that does not overlap it.
void bind_mix_pairs_output(const char* op, const at::Tensor& x, MixPairsParams& p, const at::Tensor& out);

using MixPairsRun = void (*)(const at::Tensor& x, const MixPairsParams& p);

template <MixPairsRun Run>
at::Tensor mix_pairs_op(const at::Tensor& x, double lam, at::IntArrayRef box) {
  const char* op = "fastload::mix_pairs";
  MixPairsParams p = describe_mix_pairs(op, x, lam, box);
  const at::Tensor out = new_mix_pairs_output(x);
  bind_mix_pairs_output(op, x, p, out);
  Run(x, p);
  return out;
}

template <MixPairsRun Run>
void mix_pairs_into_op(const at::Tensor& x, double lam, at::IntArrayRef box, const at::Tensor& out) {
  const char* op = "fastload::mix_pairs_into";
  MixPairsParams p = describe_mix_pairs(op, x, lam, box);
  bind_mix_pairs_output(op, x, p, out);
  Run(x, p);
}

}  // namespace fastload
