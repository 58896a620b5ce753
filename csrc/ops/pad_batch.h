// Shared argument checks and output allocation for fastload::pad_batch and fastload::pad_batch_packed.
#pragma once
#include <ATen/core/Tensor.h>

#include <optional>
#include <vector>

#include "fastload/pad_batch_math.h"

namespace fastload {

// Per-image descriptors of a list of HWC uint8 tensors (flip_masks[i]: bit d set = dim d of image i read backwards).
std::vector<ImageDesc> describe_images(at::TensorList images, at::IntArrayRef flip_masks, int64_t& channels);

// Per-image descriptors of a packed batch: contiguous HWC images at `offsets` (bytes) in the 1-D uint8 `data`, with
// `sizes` (N, 2) (h, w); offsets and sizes are int64 CPU tensors, checked against data's length.
std::vector<ImageDesc> describe_packed(const at::Tensor& data, const at::Tensor& offsets, const at::Tensor& sizes,
                                       int64_t channels);

// Checks the batch-level arguments against the images, allocates the output on `device`, and returns the kernel
// description (its `images` field is left for the backend to set).
PadBatchParams prepare_pad_batch(const std::vector<ImageDesc>& images, int64_t channels, at::IntArrayRef batch_hw,
                                 const std::optional<at::ArrayRef<double>>& mean,
                                 const std::optional<at::ArrayRef<double>>& inv_std, at::IntArrayRef channel_map,
                                 at::ArrayRef<double> pad_value, std::optional<at::ScalarType> dtype,
                                 bool channels_last, const at::TensorOptions& device, at::Tensor& out);

// What a backend needs for one call: the descriptors (host memory), the kernel description and the result.
struct PadBatchCall {
  std::vector<ImageDesc> images;
  PadBatchParams params;
  at::Tensor out;
};

// The two entry points' full argument checks and allocation, shared by the CPU and CUDA registrations.
PadBatchCall prepare_pad_batch_list(at::TensorList images, at::IntArrayRef flip_masks, at::IntArrayRef batch_hw,
                                    std::optional<at::ArrayRef<double>> mean,
                                    std::optional<at::ArrayRef<double>> inv_std, at::IntArrayRef channel_map,
                                    at::ArrayRef<double> pad_value, std::optional<at::ScalarType> dtype,
                                    bool channels_last);
PadBatchCall prepare_pad_batch_packed(const at::Tensor& data, const at::Tensor& offsets, const at::Tensor& sizes,
                                      int64_t channels, at::IntArrayRef batch_hw,
                                      std::optional<at::ArrayRef<double>> mean,
                                      std::optional<at::ArrayRef<double>> inv_std, at::IntArrayRef channel_map,
                                      at::ArrayRef<double> pad_value, std::optional<at::ScalarType> dtype,
                                      bool channels_last);

}  // namespace fastload
