// pad_batch: variable-size HWC uint8 images -> one padded batch, each image at the top-left, in one pass.
// With normalization: (N, C, Hp, Wp) float, normalize_value inside each image, pad_value (output space) elsewhere.
// Without: (N, Hp, Wp, C) uint8 in the input's channel order, pad bytes elsewhere.
#pragma once
#include <stdint.h>

#include "math/float_convert.h"
#include "math/images.h"
#include "math/normalize_math.h"

namespace fastload {

struct PadBatchParams {
  const ImageDesc* images;  // n descriptors, in memory the kernel can read (host for CPU, device for CUDA)
  void* out;
  int64_t n, c, out_h, out_w;
  bool normalize;            // false: uint8 NHWC copy
  float mean[kMaxChannels];  // per output channel (normalize)
  float inv_std[kMaxChannels];
  int channel_map[kMaxChannels];   // output channel k reads input channel channel_map[k]
  float pad_value[kMaxChannels];   // per output channel, output space (normalize)
  uint8_t pad_byte[kMaxChannels];  // per channel (uint8 copy)
  FloatDtype dtype;
  bool channels_last;
};

}  // namespace fastload
