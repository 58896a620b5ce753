// Shared argument checks and output allocation for fastload::denormalize (used by every backend's kernel).
#pragma once
#include <ATen/core/Tensor.h>

#include "math/denormalize_math.h"

namespace fastload {

// Validates the arguments (TORCH_CHECK with a message for each), allocates the (H, W, C) / (N, H, W, C) uint8 result
// on x's device into `out`, and returns the kernel description.
DenormalizeParams describe_denormalize(const at::Tensor& x, at::ArrayRef<double> mean, at::ArrayRef<double> std,
                                       at::IntArrayRef channel_map, at::Tensor& out);

}  // namespace fastload
