// fastload::denormalize on CUDA: argument checks and output allocation, then the launcher in denormalize.cu on the
// current stream of x's device.
#include <c10/cuda/CUDAException.h>
#include <c10/cuda/CUDAGuard.h>
#include <c10/cuda/CUDAStream.h>
#include <torch/library.h>

#include "cuda/denormalize_launch.h"
#include "ops/denormalize.h"
#include "ops/output.h"

namespace fastload {
namespace {

at::Tensor denormalize_cuda(const at::Tensor& x, at::ArrayRef<double> mean, at::ArrayRef<double> std,
                            at::IntArrayRef channel_map) {
  const c10::cuda::CUDAGuard guard(x.device());
  at::Tensor out;
  const DenormalizeParams p = describe_denormalize(x, mean, std, channel_map, out);
  cuda::launch_denormalize(p, c10::cuda::getCurrentCUDAStream());
  C10_CUDA_KERNEL_LAUNCH_CHECK();
  return out;
}

}  // namespace

TORCH_LIBRARY_IMPL(fastload, CUDA, m) {
  m.impl("denormalize", &denormalize_cuda);
  m.impl("denormalize_into", &Into<kDenormalizeInto, &denormalize_cuda>::run);
}

}  // namespace fastload
