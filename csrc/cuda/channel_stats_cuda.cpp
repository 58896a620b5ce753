// fastload::channel_stats on CUDA: the image descriptors go to the device in one small asynchronous copy, then one
// reduction kernel for the whole batch adds into the (2, C) totals on the current stream.
#include <c10/cuda/CUDAGuard.h>
#include <torch/library.h>

#include "cuda/channel_stats_launch.h"
#include "cuda/descriptors.h"
#include "ops/channel_stats.h"

namespace fastload {
namespace {

at::Tensor channel_stats_cuda(at::TensorList images, at::IntArrayRef flip_masks) {
  TORCH_CHECK(!images.empty() && images[0].is_cuda(), "fastload::channel_stats (CUDA kernel): images must be CUDA tensors");
  const c10::cuda::CUDAGuard guard(images[0].device());
  ChannelStatsCall call = describe_channel_stats(images, flip_masks);
  return launch_with_descriptors("fastload::channel_stats", call, images[0].device(), cuda::launch_channel_stats);
}

}  // namespace

TORCH_LIBRARY_IMPL(fastload, CUDA, m) { m.impl("channel_stats", &channel_stats_cuda); }

}  // namespace fastload
