// denormalize: normalized CHW float -> HWC uint8, y = clamp(round_half_even(x * std[c] + mean[c]), 0, 255).
// Shared by the CPU and CUDA kernels; the PyTorch reference does the same fp32 multiply, add and rounding, so all
// three give the same bytes.
#pragma once
#include <stdint.h>

#include "math/channels.h"
#include "math/float_convert.h"
#include "math/macros.h"

namespace fastload {

// Everything a denormalize kernel needs, already checked by csrc/ops/denormalize.cpp. Input strides are in elements
// (any non-negative strides: contiguous, channels_last, sliced); the output is a fresh (N, H, W, C) uint8 tensor.
struct DenormalizeParams {
  const void* in;
  uint8_t* out;
  int64_t n, c, h, w;
  int64_t in_stride_n, in_stride_c, in_stride_h, in_stride_w;
  float mean[kMaxChannels];  // per output channel
  float std[kMaxChannels];
  int channel_map[kMaxChannels];  // output channel k reads input channel channel_map[k]
  FloatDtype dtype;
};

// NaN -> 0 and +-inf clip, documented behaviour. Rounding adds and subtracts 2^23: for 0 <= v <= 255 the fp32 sum
// rounds to an integer, half to even, exactly as torch.round does, on every ISA and on the GPU.
FL_HOST_DEVICE FL_INLINE uint8_t denormalize_value(float x, float std, float mean) {
#if defined(__CUDA_ARCH__)
  float v = __fadd_rn(__fmul_rn(x, std), mean);
#else
  float v = x * std + mean;
#endif
  v = v >= 0.0f ? v : 0.0f;  // also NaN -> 0
  v = v <= 255.0f ? v : 255.0f;
  constexpr float kRound = 8388608.0f;  // 2^23
#if defined(__CUDA_ARCH__)
  v = __fsub_rn(__fadd_rn(v, kRound), kRound);
#else
  v = (v + kRound) - kRound;
#endif
  return static_cast<uint8_t>(static_cast<int>(v));
}

}  // namespace fastload
