// normalize: HWC uint8 -> CHW (or channels_last) float, y = (x - mean[c]) * inv_std[c].
// The per-element math and the launch description shared by the CPU kernel, the CUDA kernel and (in spirit) the
// PyTorch reference: subtract then multiply in fp32, never fused into an fma, so every backend gives the same bits.
#pragma once
#include <stdint.h>

#include "math/channels.h"
#include "math/float_convert.h"
#include "math/macros.h"

namespace fastload {

// Everything a normalize kernel needs, already checked by csrc/ops/normalize.cpp. Input strides are in bytes and may
// be negative (a flipped numpy view); `in` points at element (0, 0, 0, 0). The output is freshly allocated: NCHW
// contiguous, or NHWC memory (channels_last) when `channels_last` is set.
struct NormalizeParams {
  const uint8_t* in;
  void* out;
  int64_t n, h, w, c;
  int64_t in_stride_n, in_stride_h, in_stride_w, in_stride_c;
  float mean[kMaxChannels];
  float inv_std[kMaxChannels];
  int channel_map[kMaxChannels];  // output channel k reads input channel channel_map[k]
  FloatDtype dtype;
  bool channels_last;
};

// (v - mean) * inv_std for a value already in fp32 (resize blends before normalizing).
FL_HOST_DEVICE FL_INLINE float normalize_float(float v, float mean, float inv_std) {
#if defined(__CUDA_ARCH__)
  return __fmul_rn(__fsub_rn(v, mean), inv_std);
#else
  return (v - mean) * inv_std;
#endif
}

FL_HOST_DEVICE FL_INLINE float normalize_value(uint8_t x, float mean, float inv_std) {
  return normalize_float(static_cast<float>(x), mean, inv_std);
}

}  // namespace fastload
