// Argument checks of fastload::channel_stats, shared by the CPU and CUDA registrations.
#pragma once
#include <ATen/core/Tensor.h>

#include <vector>

#include "fastload/images.h"

namespace fastload {

// Checked descriptors of the images and the zeroed (2, C) int64 result on their device.
std::vector<ImageDesc> describe_channel_stats(at::TensorList images, at::IntArrayRef flip_masks, at::Tensor& out);

}  // namespace fastload
