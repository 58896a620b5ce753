// fastload::channel_stats: exact per-channel sums and sums of squares of uint8 images (for dataset mean/std).
#include "ops/channel_stats.h"

#include <ATen/ops/zeros.h>

#include "ops/images.h"

namespace fastload {

std::vector<ImageDesc> describe_channel_stats(at::TensorList images, at::IntArrayRef flip_masks, at::Tensor& out) {
  int64_t channels = 0;
  const char* op = "fastload::channel_stats";
  std::vector<ImageDesc> descs = describe_images(op, images, flip_masks, channels);
  out = at::zeros({2, channels}, images[0].options().dtype(at::kLong));
  return descs;
}

}  // namespace fastload
