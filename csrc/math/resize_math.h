// resize_pad_batch: per image, resize to its keep-ratio size with OpenCV's INTER_LINEAR or INTER_NEAREST source
// coordinates, swap channels, normalize, and write into the padded batch, in one pass. Shared by the CPU and CUDA
// kernels; the PyTorch reference computes the same fp32 coordinates, weights and blends, so they agree bit for bit.
#pragma once
#include <math.h>
#include <stdint.h>

#include "math/macros.h"
#include "math/normalize_math.h"
#include "math/pad_batch_math.h"

namespace fastload {

enum class Interpolation : int { kBilinear = 0, kNearest = 1 };

// One source image and the size it is resized to. scale = source / destination size, computed as OpenCV does
// (1 / (dst / src) in double).
struct ResizeDesc {
  ImageDesc src;
  int64_t new_h, new_w;
  double scale_y, scale_x;
};

struct ResizePadBatchParams {
  const ResizeDesc* images;  // n descriptors, in memory the kernel can read
  void* out;
  int64_t n, c, out_h, out_w;
  float mean[kMaxChannels];
  float inv_std[kMaxChannels];
  int channel_map[kMaxChannels];
  float pad_value[kMaxChannels];
  Interpolation interpolation;
  FloatDtype dtype;
  bool channels_last;
};

// INTER_LINEAR: destination index d samples source position (d + 0.5) * scale - 0.5 (rounded to fp32, as OpenCV
// does); i0/i1 are the clamped neighbours and frac the weight of i1 (0 at the borders).
struct LinearTap {
  int64_t i0, i1;
  float frac;
};

FL_HOST_DEVICE FL_INLINE LinearTap linear_tap(int64_t d, double scale, int64_t size) {
  const float pos = static_cast<float>((static_cast<double>(d) + 0.5) * scale - 0.5);
  const float base = floorf(pos);
  LinearTap t{static_cast<int64_t>(base), 0, pos - base};
  if (t.i0 < 0) t.i0 = 0, t.frac = 0.0f;
  if (t.i0 >= size - 1) t.i0 = size - 1, t.frac = 0.0f;
  t.i1 = t.i0 + 1 < size ? t.i0 + 1 : size - 1;
  return t;
}

// INTER_NEAREST: floor(d * scale), clamped to the last index.
FL_HOST_DEVICE FL_INLINE int64_t nearest_index(int64_t d, double scale, int64_t size) {
  const int64_t i = static_cast<int64_t>(floor(static_cast<double>(d) * scale));
  return i < size - 1 ? i : size - 1;
}

// a * (1 - w) + b * w, every product and sum rounded separately (no fma) on every backend.
FL_HOST_DEVICE FL_INLINE float blend(float a, float b, float w) {
#if defined(__CUDA_ARCH__)
  return __fadd_rn(__fmul_rn(a, __fsub_rn(1.0f, w)), __fmul_rn(b, w));
#else
  return a * (1.0f - w) + b * w;
#endif
}

}  // namespace fastload
