// resized_crop_batch: every output pixel a separable weighted sum of source pixels, from per-image tap tables
// computed once on the host (fastload/functional/_crop_taps.py): output row y of image i reads source rows y_starts[i,
// y] + k with weights y_weights[i, y, k], and each of those rows is first summed horizontally, output column x reading
// source columns x_starts[i, x] + j with weights x_weights[i, x, j]. Zero-weight taps (the tables' padding) would add
// +0, so kernels skip them; the op checks that every weighted tap lies in the image. Every backend sums in this order,
// in fp32 without fma (bicubic: each pass's sums rounded to bytes, ResizedCropParams::bytes_between_passes).
#pragma once
#include <math.h>
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
  int64_t ky, kx;           // taps per output row / column
  const int64_t* y_starts;  // (n, out_h)
  const float* y_weights;   // (n, out_h, ky)
  const int64_t* x_starts;  // (n, out_w)
  const float* x_weights;   // (n, out_w, kx)
  bool normalize;           // false: uint8 NHWC, rounded half to even
  // A table with a negative weight (bicubic): every horizontal sum and every vertical sum is rounded half up and
  // clamped to [0, 255] before it is used, as torch's uint8 resampling stores each pass as bytes (an overshoot past
  // an edge does not reach the next pass) and a uint8 crop is before it is normalized.
  bool bytes_between_passes;
  float mean[kMaxChannels];  // per output channel (normalize)
  float inv_std[kMaxChannels];
  int channel_map[kMaxChannels];  // output channel k reads input channel channel_map[k]
  FloatDtype dtype;
  bool channels_last;
};

// v rounded half up and clamped to [0, 255]: torch's uint8 resampling's (sum + 2^(p-1)) >> p, then saturation, on
// every backend (the sums are of bytes times fixed-point weights: NaN cannot occur).
FL_HOST_DEVICE FL_INLINE float round_to_byte(float v) {
  const float r = floorf(v + 0.5f);
  return r < 0.0f ? 0.0f : (r > 255.0f ? 255.0f : r);
}

}  // namespace fastload
