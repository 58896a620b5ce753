// Argument checks and output allocation of fastload::pad_batch and fastload::pad_batch_packed, shared by the CPU and
// CUDA registrations.
#pragma once
#include <ATen/core/Tensor.h>

#include <optional>
#include <vector>

#include "math/pad_batch_math.h"

namespace fastload {

// What a backend needs for one call: the descriptors (host memory), the kernel description and the result.
struct PadBatchCall {
  std::vector<ImageDesc> images;
  PadBatchParams params;
  at::Tensor out;
};

// The list form: HWC uint8 tensors, image i read with flip_masks[i].
PadBatchCall describe_pad_batch(at::TensorList images, at::IntArrayRef flip_masks, at::IntArrayRef batch_hw,
                                std::optional<at::ArrayRef<double>> mean, std::optional<at::ArrayRef<double>> inv_std,
                                at::IntArrayRef channel_map, at::ArrayRef<double> pad_value,
                                std::optional<at::ScalarType> dtype, bool channels_last);
// The packed form: a PackedImages' buffer, offsets and sizes.
PadBatchCall describe_pad_batch(const at::Tensor& data, const at::Tensor& offsets, const at::Tensor& sizes,
                                int64_t channels, at::IntArrayRef batch_hw, std::optional<at::ArrayRef<double>> mean,
                                std::optional<at::ArrayRef<double>> inv_std, at::IntArrayRef channel_map,
                                at::ArrayRef<double> pad_value, std::optional<at::ScalarType> dtype,
                                bool channels_last);

}  // namespace fastload
