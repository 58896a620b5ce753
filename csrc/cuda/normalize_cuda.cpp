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

void run(const NormalizeParams& p) {
  launch_normalize(p, c10::cuda::getCurrentCUDAStream());
  C10_CUDA_KERNEL_LAUNCH_CHECK();
}

at::Tensor normalize_cuda(const at::Tensor& img, at::ArrayRef<double> mean, at::ArrayRef<double> inv_std,
                          at::IntArrayRef channel_map, at::IntArrayRef flip_dims, at::ScalarType dtype,
                          bool channels_last) {
  const c10::cuda::CUDAGuard guard(img.device());
  NormalizeParams p = describe_normalize(img, mean, inv_std, channel_map, flip_dims);
  at::Tensor out = allocate_normalize_output(img, p, dtype, channels_last);
  run(p);
  return out;
}

void normalize_into_cuda(const at::Tensor& img, at::ArrayRef<double> mean, at::ArrayRef<double> inv_std,
                         at::IntArrayRef channel_map, at::IntArrayRef flip_dims, const at::Tensor& out) {
  const c10::cuda::CUDAGuard guard(img.device());
  NormalizeParams p = describe_normalize(img, mean, inv_std, channel_map, flip_dims);
  bind_normalize_output(img, p, out);
  run(p);
}

}  // namespace

TORCH_LIBRARY_IMPL(fastload, CUDA, m) {
  m.impl("normalize", &normalize_cuda);
  m.impl("normalize_into", &normalize_into_cuda);
}

}  // namespace fastload
