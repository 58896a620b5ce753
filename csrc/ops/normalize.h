// Shared argument checks and output allocation for fastload::normalize (used by every backend's kernel).
#pragma once
#include <ATen/core/Tensor.h>

#include "fastload/normalize_math.h"

namespace fastload {

// Validates the op's arguments (TORCH_CHECK with a message for each), allocates the output on img's device and
// returns the kernel description. `out` receives the result tensor.
NormalizeParams prepare_normalize(const at::Tensor& img, at::ArrayRef<double> mean, at::ArrayRef<double> inv_std,
                                  at::IntArrayRef channel_map, at::IntArrayRef flip_dims, at::ScalarType dtype,
                                  bool channels_last, at::Tensor& out);

}  // namespace fastload
