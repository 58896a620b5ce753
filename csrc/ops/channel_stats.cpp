// fastload::channel_stats: exact per-channel sums and sums of squares of uint8 images (for dataset mean/std).
#include "ops/channel_stats.h"

#include <ATen/ops/zeros.h>

#include <algorithm>

#include "ops/image_inputs.h"

namespace fastload {

ChannelStatsCall describe_channel_stats(at::TensorList images, at::IntArrayRef flip_masks) {
  ChannelStatsCall call;
  int64_t channels = 0;
  call.images = describe_images("fastload::channel_stats", images, flip_masks, channels);
  call.out = at::zeros({2, channels}, images[0].options().dtype(at::kLong));
  int64_t max_pixels = 0;
  for (const ImageDesc& d : call.images) max_pixels = std::max(max_pixels, d.h * d.w);
  call.params = ChannelStatsParams{nullptr, static_cast<int64_t>(call.images.size()), channels, max_pixels,
                                   reinterpret_cast<unsigned long long*>(call.out.data_ptr<int64_t>())};
  return call;
}

}  // namespace fastload
