// Launcher of the normalize kernels; implemented in normalize.cu (no torch headers), for CUDA (namespace cuda) and,
// compiled by the host compiler with FL_EMULATION, for the CUDA emulation (namespace emulation).
#pragma once
#include "cuda/stream.h"
#include "fastload/normalize_math.h"

namespace fastload {
namespace FL_KERNEL_NS {

// Enqueues the kernel on `stream`; the caller checks the launch (C10_CUDA_KERNEL_LAUNCH_CHECK).
void launch_normalize(const NormalizeParams& p, cudaStream_t stream);

}  // namespace FL_KERNEL_NS
}  // namespace fastload
