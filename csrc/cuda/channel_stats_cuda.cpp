// fastload::channel_stats on CUDA: one reduction kernel per image into the same totals, on the current stream.
#include <c10/cuda/CUDAException.h>
#include <c10/cuda/CUDAGuard.h>
#include <c10/cuda/CUDAStream.h>
#include <torch/library.h>

#include "cuda/channel_stats_launch.h"
#include "ops/channel_stats.h"

namespace fastload {
namespace {

at::Tensor channel_stats_cuda(at::TensorList images, at::IntArrayRef flip_masks) {
  TORCH_CHECK(!images.empty() && images[0].is_cuda(), "fastload::channel_stats (CUDA kernel): images must be CUDA tensors");
  const c10::cuda::CUDAGuard guard(images[0].device());
  at::Tensor out;
  const std::vector<ImageDesc> descs = describe_channel_stats(images, flip_masks, out);
  auto* totals = reinterpret_cast<unsigned long long*>(out.data_ptr<int64_t>());
  for (const ImageDesc& img : descs) {
    cuda::launch_channel_stats(img, out.size(1), totals, c10::cuda::getCurrentCUDAStream());
    C10_CUDA_KERNEL_LAUNCH_CHECK();
  }
  return out;
}

}  // namespace

TORCH_LIBRARY_IMPL(fastload, CUDA, m) { m.impl("channel_stats", &channel_stats_cuda); }

}  // namespace fastload
