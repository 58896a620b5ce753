// fastload::resize_pad_batch(_packed) on CUDA: descriptors to the device in one small async copy, then one kernel
// for the whole batch on the current stream.
#include <c10/cuda/CUDAException.h>
#include <c10/cuda/CUDAGuard.h>
#include <c10/cuda/CUDAStream.h>
#include <torch/library.h>

#include "cuda/descriptors.h"
#include "cuda/resize_pad_batch_launch.h"
#include "ops/resize_pad_batch.h"
#include "ops/output.h"

namespace fastload {
namespace {

at::Tensor run(ResizePadBatchCall call, const at::Device& device) {
  return launch_with_descriptors("fastload::resize_pad_batch", call, device, cuda::launch_resize_pad_batch);
}

at::Tensor resize_pad_batch_cuda(at::TensorList images, at::IntArrayRef flip_masks, at::IntArrayRef new_sizes,
                                 at::IntArrayRef batch_hw, at::ArrayRef<double> mean, at::ArrayRef<double> inv_std,
                                 at::IntArrayRef channel_map, at::ArrayRef<double> pad_value, c10::string_view interpolation,
                                 at::ScalarType dtype, bool channels_last) {
  TORCH_CHECK(!images.empty() && images[0].is_cuda(), "fastload::resize_pad_batch (CUDA kernel): images must be CUDA tensors");
  const c10::cuda::CUDAGuard guard(images[0].device());
  return run(describe_resize_pad_batch(images, flip_masks, new_sizes, batch_hw, mean, inv_std, channel_map, pad_value,
                                     interpolation, dtype, channels_last),
             images[0].device());
}

at::Tensor resize_pad_batch_packed_cuda(const at::Tensor& data, const at::Tensor& offsets, const at::Tensor& sizes,
                                        int64_t channels, at::IntArrayRef new_sizes, at::IntArrayRef batch_hw,
                                        at::ArrayRef<double> mean, at::ArrayRef<double> inv_std,
                                        at::IntArrayRef channel_map, at::ArrayRef<double> pad_value,
                                        c10::string_view interpolation, at::ScalarType dtype, bool channels_last) {
  TORCH_CHECK(data.is_cuda(), "fastload::resize_pad_batch_packed (CUDA kernel): data must be a CUDA tensor");
  const c10::cuda::CUDAGuard guard(data.device());
  return run(describe_resize_pad_batch(data, offsets, sizes, channels, new_sizes, batch_hw, mean, inv_std,
                                       channel_map, pad_value, interpolation, dtype, channels_last),
             data.device());
}

}  // namespace

TORCH_LIBRARY_IMPL(fastload, CUDA, m) {
  m.impl("resize_pad_batch", &resize_pad_batch_cuda);
  m.impl("resize_pad_batch_packed", &resize_pad_batch_packed_cuda);
  m.impl("resize_pad_batch_into", &Into<kResizePadBatchInto, &resize_pad_batch_cuda>::run);
  m.impl("resize_pad_batch_packed_into", &Into<kResizePadBatchPackedInto, &resize_pad_batch_packed_cuda>::run);
}

}  // namespace fastload
