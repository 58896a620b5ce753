// fastload::normalize on CUDA: argument checks and output allocation, then the launcher in normalize.cu on the
// current stream of img's device.
#include <c10/cuda/CUDAException.h>
#include <c10/cuda/CUDAGuard.h>
#include <c10/cuda/CUDAStream.h>
#include <torch/library.h>

#include "cuda/normalize_launch.h"
#include "ops/normalize.h"

namespace fastload {
namespace {

at::Tensor normalize_cuda(const at::Tensor& img, at::ArrayRef<double> mean, at::ArrayRef<double> inv_std,
                          at::IntArrayRef channel_map, at::IntArrayRef flip_dims, at::ScalarType dtype,
                          bool channels_last) {
  TORCH_CHECK(img.is_cuda(), "fastload::normalize (CUDA kernel): img must be a CUDA tensor");
  const c10::cuda::CUDAGuard guard(img.device());
  at::Tensor out;
  const NormalizeParams p = prepare_normalize(img, mean, inv_std, channel_map, flip_dims, dtype, channels_last, out);
  launch_normalize(p, c10::cuda::getCurrentCUDAStream());
  C10_CUDA_KERNEL_LAUNCH_CHECK();
  return out;
}

}  // namespace

TORCH_LIBRARY_IMPL(fastload, CUDA, m) { m.impl("normalize", &normalize_cuda); }

}  // namespace fastload
