// fastload::augment: the argument checks shared by every backend's kernels.
#pragma once
#include <ATen/core/Tensor.h>

#include <vector>

#include "math/augment_math.h"

namespace fastload {

// A checked call: the stage-major descriptors (host memory), torch's linspace coordinates for the warps, the kernel
// description (its descriptor pointers still unset) and the output.
struct AugmentCall {
  std::vector<int32_t> kinds, turns;
  std::vector<ColorImage> colors;
  std::vector<WarpImage> warps;
  std::vector<uint8_t> stage_uses;
  at::Tensor base_x, base_y;
  AugmentParams params;
  at::Tensor out;
};

// Checks images (uint8 (N, C, H, W), C = 1 or 3, non-negative strides) and the stages: kinds ((N, S) int64: 0 none,
// 1 colour, 2 warp, 3 + t - 1 for t = 1..3 quarter turns; odd turns only on square images), steps and factors
// (adjust_color's, one row per image and stage, row i * S + k; only colour stages' rows are read), matrices
// ((N * S, 6) float64, warp_affine's; only warp stages' rows are read), fill and interpolation (warp_affine's) and
// rgb. The output is a new contiguous (N, C, H, W) uint8 batch.
AugmentCall describe_augment(const at::Tensor& images, const at::Tensor& kinds, const at::Tensor& steps,
                             const at::Tensor& factors, const at::Tensor& matrices, at::ArrayRef<double> fill,
                             c10::string_view interpolation, at::IntArrayRef rgb);

// Whether some stage of the call has a contrast, autocontrast or equalize step (CUDA: statistics buffers needed).
inline bool augment_has_statistics(const AugmentCall& call) {
  for (const uint8_t uses : call.stage_uses) {
    if (uses & kUsesStats) return true;
  }
  return false;
}

using AugmentRun = void (*)(const at::Tensor& images, AugmentCall& call);

template <AugmentRun Run>
at::Tensor augment_op(const at::Tensor& images, const at::Tensor& kinds, const at::Tensor& steps,
                      const at::Tensor& factors, const at::Tensor& matrices, at::ArrayRef<double> fill,
                      c10::string_view interpolation, at::IntArrayRef rgb) {
  AugmentCall call = describe_augment(images, kinds, steps, factors, matrices, fill, interpolation, rgb);
  Run(images, call);
  return call.out;
}

}  // namespace fastload
