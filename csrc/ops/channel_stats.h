// Shared argument checks for fastload::channel_stats.
#pragma once
#include <ATen/core/Tensor.h>

#include <vector>

#include "fastload/pad_batch_math.h"

namespace fastload {

// Checked descriptors of the images and the zeroed (2, C) int64 result on their device.
std::vector<ImageDesc> prepare_channel_stats(at::TensorList images, at::IntArrayRef flip_masks, at::Tensor& out);

}  // namespace fastload
