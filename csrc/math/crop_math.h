// resized_crop_batch: every output pixel a separable weighted sum of source pixels, from per-image tap tables
// computed once on the host (fastload/functional/_crop_taps.py): output row y of image i reads source rows y_starts[i,
// y] + k with weights y_weights[i, y, k], and each of those rows is first summed horizontally, output column x reading
// source columns x_starts[i, x] + j with weights x_weights[i, x, j]. Zero-weight taps (the tables' padding) would add
// +0, so kernels skip them; the op checks that every weighted tap lies in the image. Every backend sums in this order,
// in fp32 without fma.
#pragma once
#include <stdint.h>

#include "math/float_convert.h"
#include "math/images.h"
#include "math/normalize_math.h"

namespace fastload {

struct ResizedCropParams {
  // Descriptors and tap tables in memory the kernel can read: the host's for the CPU, the device's for CUDA (the op
  // takes the tables as CPU tensors and uploads them with the descriptors).
  const ImageDesc* images;  // n descriptors
  void* out;
  int64_t n, c, out_h, out_w;
  int64_t ky, kx;            // taps per output row / column
  const int64_t* y_starts;   // (n, out_h)
  const float* y_weights;    // (n, out_h, ky)
  const int64_t* x_starts;   // (n, out_w)
  const float* x_weights;    // (n, out_w, kx)
  bool normalize;            // false: uint8 NHWC, rounded half to even
  float mean[kMaxChannels];  // per output channel (normalize)
  float inv_std[kMaxChannels];
  int channel_map[kMaxChannels];  // output channel k reads input channel channel_map[k]
  FloatDtype dtype;
  bool channels_last;
};

}  // namespace fastload
