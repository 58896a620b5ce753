// The launchers of the CUDA kernels, one per op, each implemented in csrc/cuda/<op>.cu (no torch headers): for CUDA
// (namespace cuda) and, compiled by the host compiler with FL_EMULATION, for the CUDA emulation (namespace
// emulation). Each enqueues its kernel on `stream` (descriptor arrays in p must be device memory); the caller checks
// the launch (C10_CUDA_KERNEL_LAUNCH_CHECK).
#pragma once
#include "cuda/stream.h"
#include "math/augment_math.h"
#include "math/color_math.h"
#include "math/crop_color_math.h"
#include "math/crop_math.h"
#include "math/denormalize_math.h"
#include "math/images.h"
#include "math/mix_math.h"
#include "math/normalize_math.h"
#include "math/pad_batch_math.h"
#include "math/resize_math.h"
#include "math/warp_math.h"

namespace fastload {
namespace FL_KERNEL_NS {

void launch_normalize(const NormalizeParams& p, cudaStream_t stream);
void launch_augment(const AugmentParams& p, cudaStream_t stream);
void launch_adjust_color(const AdjustColorParams& p, cudaStream_t stream);
void launch_denormalize(const DenormalizeParams& p, cudaStream_t stream);
void launch_pad_batch(const PadBatchParams& p, cudaStream_t stream);
void launch_resize_pad_batch(const ResizePadBatchParams& p, cudaStream_t stream);
void launch_resized_crop_batch(const ResizedCropParams& p, cudaStream_t stream);
void launch_resized_crop_color(const CropColorParams& p, cudaStream_t stream);
void launch_channel_stats(const ChannelStatsParams& p, cudaStream_t stream);
void launch_mix_pairs(const MixPairsParams& p, cudaStream_t stream);
void launch_warp_affine(const WarpAffineParams& p, cudaStream_t stream);

}  // namespace FL_KERNEL_NS
}  // namespace fastload
