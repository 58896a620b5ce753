// Shared argument checks for fastload::normalize and fastload::normalize_into (used by every backend's kernel).
#pragma once
#include <ATen/core/Tensor.h>

#include "fastload/normalize_math.h"

namespace fastload {

// Validates the input-side arguments (TORCH_CHECK with a message for each) and returns the kernel description
// with its output fields still unset.
NormalizeParams describe_normalize(const at::Tensor& img, at::ArrayRef<double> mean, at::ArrayRef<double> inv_std,
                                   at::IntArrayRef channel_map, at::IntArrayRef flip_dims);

// Allocates the result on img's device: (C, H, W) / (N, C, H, W) of `dtype`, contiguous or channels_last.
at::Tensor allocate_normalize_output(const at::Tensor& img, NormalizeParams& p, at::ScalarType dtype,
                                     bool channels_last);

// Checks a caller-provided result (shape, device, dtype, a contiguous or channels_last layout, no overlap with img)
// and points `p` at it.
void bind_normalize_output(const at::Tensor& img, NormalizeParams& p, const at::Tensor& out);

}  // namespace fastload
