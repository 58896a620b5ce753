// Argument checks of fastload::normalize and fastload::normalize_into, shared by the CPU and CUDA registrations;
// `op` names the op that was called in every message.
#pragma once
#include <ATen/core/Tensor.h>

#include "math/normalize_math.h"

namespace fastload {

// Validates the input-side arguments (TORCH_CHECK with a message for each) and returns the kernel description
// with its output fields still unset. Bit d of flip_mask set = dim d of img is read backwards.
NormalizeParams describe_normalize(const char* op, const at::Tensor& img, at::ArrayRef<double> mean,
                                   at::ArrayRef<double> inv_std, at::IntArrayRef channel_map, int64_t flip_mask);

// Allocates the result on img's device: (C, H, W) / (N, C, H, W) of `dtype`, contiguous or channels_last.
at::Tensor allocate_normalize_output(const char* op, const at::Tensor& img, NormalizeParams& p, at::ScalarType dtype,
                                     bool channels_last);

// Checks a caller-provided result (shape, device, dtype, a contiguous or channels_last layout, no overlap with img)
// and points `p` at it.
void bind_normalize_output(const char* op, const at::Tensor& img, NormalizeParams& p, const at::Tensor& out);

// A backend's kernel runner: runs the kernel that `p` describes, for input `img`, on img's device.
using NormalizeRun = void (*)(const at::Tensor& img, const NormalizeParams& p);

// The entry points every backend registers (m.impl("normalize", &normalize_op<run>)), given its runner.
template <NormalizeRun Run>
at::Tensor normalize_op(const at::Tensor& img, at::ArrayRef<double> mean, at::ArrayRef<double> inv_std,
                        at::IntArrayRef channel_map, int64_t flip_mask, at::ScalarType dtype, bool channels_last) {
  const char* op = "fastload::normalize";
  NormalizeParams p = describe_normalize(op, img, mean, inv_std, channel_map, flip_mask);
  at::Tensor out = allocate_normalize_output(op, img, p, dtype, channels_last);
  Run(img, p);
  return out;
}

template <NormalizeRun Run>
void normalize_into_op(const at::Tensor& img, at::ArrayRef<double> mean, at::ArrayRef<double> inv_std,
                       at::IntArrayRef channel_map, int64_t flip_mask, const at::Tensor& out) {
  const char* op = "fastload::normalize_into";
  NormalizeParams p = describe_normalize(op, img, mean, inv_std, channel_map, flip_mask);
  bind_normalize_output(op, img, p, out);
  Run(img, p);
}

}  // namespace fastload
