// Launcher of the resized_crop_batch CUDA kernel; implemented in resized_crop_batch.cu (no torch headers).
#pragma once
#include "cuda/stream.h"

#include "fastload/crop_math.h"

namespace fastload {
namespace FL_KERNEL_NS {

// Enqueues the kernel on `stream` (p.images and the tap tables must be device memory); the caller checks the launch.
void launch_resized_crop_batch(const ResizedCropParams& p, cudaStream_t stream);

}  // namespace FL_KERNEL_NS
}  // namespace fastload
