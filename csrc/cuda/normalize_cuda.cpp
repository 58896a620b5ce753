// fastload::normalize / normalize_into on CUDA: the shared entry points (ops/normalize.h) with a runner that launches
// normalize.cu's kernels on the current stream of img's device.
#include <c10/cuda/CUDAException.h>
#include <c10/cuda/CUDAGuard.h>
#include <c10/cuda/CUDAStream.h>
#include <torch/library.h>

#include "cuda/normalize_launch.h"
#include "ops/normalize.h"

namespace fastload {
namespace {

void run(const at::Tensor& img, const NormalizeParams& p) {
  const c10::cuda::CUDAGuard guard(img.device());
  cuda::launch_normalize(p, c10::cuda::getCurrentCUDAStream());
  C10_CUDA_KERNEL_LAUNCH_CHECK();
}

}  // namespace

TORCH_LIBRARY_IMPL(fastload, CUDA, m) {
  m.impl("normalize", &normalize_op<run>);
  m.impl("normalize_into", &normalize_into_op<run>);
}

}  // namespace fastload
