// Argument checks and output allocation of fastload::resize_pad_batch(_packed), shared by the CPU and CUDA
// registrations.
#pragma once
#include <ATen/core/Tensor.h>
#include <c10/util/string_view.h>

#include <vector>

#include "math/resize_math.h"

namespace fastload {

// What a backend needs for one call: the descriptors (host memory), the kernel description and the result.
struct ResizePadBatchCall {
  std::vector<ResizeDesc> images;
  ResizePadBatchParams params;
  at::Tensor out;
};

ResizePadBatchCall describe_resize_pad_batch(at::TensorList images, at::IntArrayRef flip_masks,
                                             at::IntArrayRef new_sizes, at::IntArrayRef batch_hw,
                                             at::ArrayRef<double> mean, at::ArrayRef<double> inv_std,
                                             at::IntArrayRef channel_map, at::ArrayRef<double> pad_value,
                                             c10::string_view interpolation, at::ScalarType dtype, bool channels_last);
ResizePadBatchCall describe_resize_pad_batch(const at::Tensor& data, const at::Tensor& offsets, const at::Tensor& sizes,
                                             int64_t channels, at::IntArrayRef new_sizes, at::IntArrayRef batch_hw,
                                             at::ArrayRef<double> mean, at::ArrayRef<double> inv_std,
                                             at::IntArrayRef channel_map, at::ArrayRef<double> pad_value,
                                             c10::string_view interpolation, at::ScalarType dtype, bool channels_last);

}  // namespace fastload
