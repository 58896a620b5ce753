// One source image as the kernels see it, shared by every batch op (pad_batch, resize_pad_batch, channel_stats).
// Torch-free, so the .cu files can include it.
#pragma once
#include <stdint.h>

namespace fastload {

// One HWC uint8 image, already checked: `data` points at pixel (0, 0) channel 0 as the op reads it; strides in
// bytes, negative for a dim read backwards (a flipped numpy view).
struct ImageDesc {
  const uint8_t* data;
  int64_t h, w;
  int64_t stride_h, stride_w, stride_c;
};

}  // namespace fastload
