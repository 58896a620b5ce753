// Shared argument checks and output allocation for fastload::resize_pad_batch(_packed).
#pragma once
#include <ATen/core/Tensor.h>

#include <vector>

#include "fastload/resize_math.h"

namespace fastload {

// What a backend needs for one call: the descriptors (host memory), the kernel description and the result.
struct ResizePadCall {
  std::vector<ResizeDesc> images;
  ResizePadParams params;
  at::Tensor out;
};

ResizePadCall prepare_resize_pad_list(at::TensorList images, at::IntArrayRef flip_masks, at::IntArrayRef new_sizes,
                                      at::IntArrayRef batch_hw, at::ArrayRef<double> mean,
                                      at::ArrayRef<double> inv_std, at::IntArrayRef channel_map,
                                      at::ArrayRef<double> pad_value, int64_t interpolation, at::ScalarType dtype,
                                      bool channels_last);
ResizePadCall prepare_resize_pad_packed(const at::Tensor& data, const at::Tensor& offsets, const at::Tensor& sizes,
                                        int64_t channels, at::IntArrayRef new_sizes, at::IntArrayRef batch_hw,
                                        at::ArrayRef<double> mean, at::ArrayRef<double> inv_std,
                                        at::IntArrayRef channel_map, at::ArrayRef<double> pad_value,
                                        int64_t interpolation, at::ScalarType dtype, bool channels_last);

}  // namespace fastload
