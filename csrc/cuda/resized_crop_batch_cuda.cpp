// fastload::resized_crop_batch on CUDA: the image descriptors go to the device in one small asynchronous copy (the
// tap tables are already there), then one kernel crops, resizes, flips and normalizes the batch on the current
// stream.
#include <c10/cuda/CUDAGuard.h>
#include <torch/library.h>

#include "cuda/descriptors.h"
#include "cuda/resized_crop_batch_launch.h"
#include "ops/output.h"
#include "ops/resized_crop_batch.h"

namespace fastload {
namespace {

at::Tensor resized_crop_batch_cuda(at::TensorList images, at::IntArrayRef flip_masks, const at::Tensor& y_starts,
                                   const at::Tensor& y_weights, const at::Tensor& x_starts,
                                   const at::Tensor& x_weights, std::optional<at::ArrayRef<double>> mean,
                                   std::optional<at::ArrayRef<double>> inv_std, at::IntArrayRef channel_map,
                                   std::optional<at::ScalarType> dtype, bool channels_last) {
  TORCH_CHECK(!images.empty() && images[0].is_cuda(),
              "fastload::resized_crop_batch (CUDA kernel): images must be CUDA tensors");
  const c10::cuda::CUDAGuard guard(images[0].device());
  ResizedCropCall call = describe_resized_crop_batch(images, flip_masks, y_starts, y_weights, x_starts, x_weights,
                                                     mean, inv_std, channel_map, dtype, channels_last);
  // The tap tables are host tensors (checked there without a sync): they go up with the descriptors, in one copy.
  ResizedCropParams& p = call.params;
  const std::vector<HostTable> tables{{p.y_starts, y_starts.nbytes(), &p.y_starts},
                                      {p.y_weights, y_weights.nbytes(), &p.y_weights},
                                      {p.x_starts, x_starts.nbytes(), &p.x_starts},
                                      {p.x_weights, x_weights.nbytes(), &p.x_weights}};
  return launch_with_descriptors("fastload::resized_crop_batch", call, images[0].device(),
                                 cuda::launch_resized_crop_batch, tables);
}

}  // namespace

TORCH_LIBRARY_IMPL(fastload, CUDA, m) {
  m.impl("resized_crop_batch", &resized_crop_batch_cuda);
  m.impl("resized_crop_batch_into", &Into<kResizedCropBatchInto, &resized_crop_batch_cuda>::run);
}

}  // namespace fastload
