// fastload::pad_batch / pad_batch_packed on CUDA: the image descriptors go to the device in one small asynchronous
// copy from pinned memory, then one kernel assembles the whole batch on the current stream.
#include <c10/cuda/CUDAException.h>
#include <c10/cuda/CUDAGuard.h>
#include <c10/cuda/CUDAStream.h>
#include <torch/library.h>

#include "cuda/descriptors.h"
#include "cuda/pad_batch_launch.h"
#include "ops/pad_batch.h"
#include "ops/output.h"

namespace fastload {
namespace {

at::Tensor run(PadBatchCall call, const at::Device& device) {
  return launch_with_descriptors("fastload::pad_batch", call, device, cuda::launch_pad_batch);
}

at::Tensor pad_batch_cuda(at::TensorList images, at::IntArrayRef flip_masks, at::IntArrayRef batch_hw,
                          std::optional<at::ArrayRef<double>> mean, std::optional<at::ArrayRef<double>> inv_std,
                          at::IntArrayRef channel_map, at::ArrayRef<double> pad_value,
                          std::optional<at::ScalarType> dtype, bool channels_last) {
  TORCH_CHECK(!images.empty() && images[0].is_cuda(), "fastload::pad_batch (CUDA kernel): images must be CUDA tensors");
  const c10::cuda::CUDAGuard guard(images[0].device());
  return run(describe_pad_batch(images, flip_masks, batch_hw, mean, inv_std, channel_map, pad_value, dtype,
                                    channels_last),
             images[0].device());
}

at::Tensor pad_batch_packed_cuda(const at::Tensor& data, const at::Tensor& offsets, const at::Tensor& sizes,
                                 int64_t channels, at::IntArrayRef batch_hw, std::optional<at::ArrayRef<double>> mean,
                                 std::optional<at::ArrayRef<double>> inv_std, at::IntArrayRef channel_map,
                                 at::ArrayRef<double> pad_value, std::optional<at::ScalarType> dtype,
                                 bool channels_last) {
  TORCH_CHECK(data.is_cuda(), "fastload::pad_batch_packed (CUDA kernel): data must be a CUDA tensor");
  const c10::cuda::CUDAGuard guard(data.device());
  return run(describe_pad_batch(data, offsets, sizes, channels, batch_hw, mean, inv_std, channel_map,
                                      pad_value, dtype, channels_last),
             data.device());
}

}  // namespace

TORCH_LIBRARY_IMPL(fastload, CUDA, m) {
  m.impl("pad_batch", &pad_batch_cuda);
  m.impl("pad_batch_packed", &pad_batch_packed_cuda);
  m.impl("pad_batch_into", &Into<kPadBatchInto, &pad_batch_cuda>::run);
  m.impl("pad_batch_packed_into", &Into<kPadBatchPackedInto, &pad_batch_packed_cuda>::run);
}

}  // namespace fastload
