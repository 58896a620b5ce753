// One source image as the kernels see it, shared by every batch op (pad_batch, resize_pad_batch, channel_stats), and
// channel_stats' launch description.
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

// channel_stats over a batch of images: per-channel sums and sums of squares, exact in 64-bit integers.
struct ChannelStatsParams {
  const ImageDesc* images;     // n descriptors, in memory the kernel can read (host for CPU, device for CUDA)
  int64_t n, c;                // images, channels (1 or 3)
  int64_t max_pixels;          // pixels of the largest image (sizes the CUDA grid)
  unsigned long long* totals;  // 2 * c: per-channel sums, then sums of squares
};

}  // namespace fastload
