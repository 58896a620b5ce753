// Argument checks of fastload::channel_stats, shared by the CPU, CUDA and emulation registrations.
#pragma once
#include <ATen/core/Tensor.h>

#include <vector>

#include "math/images.h"

namespace fastload {

// A checked call: host descriptors, the kernel description (params.images still unset, params.totals pointing
// into out) and the zeroed (2, C) int64 result on the images' device.
struct ChannelStatsCall {
  std::vector<ImageDesc> images;
  ChannelStatsParams params;
  at::Tensor out;
};

ChannelStatsCall describe_channel_stats(at::TensorList images, at::IntArrayRef flip_masks);

}  // namespace fastload
