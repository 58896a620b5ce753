// Shared checks and descriptions of uint8 image inputs (see image_inputs.h).
#include "ops/image_inputs.h"

#include <c10/util/Exception.h>

namespace fastload {

void check_image_batch(const char* op, const at::Tensor& images) {
  TORCH_CHECK(images.scalar_type() == at::kByte, op, ": images must be uint8, got ", images.scalar_type());
  TORCH_CHECK(images.dim() == 4 && (images.size(1) == 1 || images.size(1) == 3), op,
              ": images must be an (N, C, H, W) batch with C = 1 or 3, got shape ", images.sizes());
  for (int64_t d = 0; d < 4; ++d) TORCH_CHECK(images.stride(d) >= 0, op, ": negative strides are not supported");
}

const uint8_t* flipped_origin(const char* op, const at::Tensor& t, int64_t flip_mask, int64_t* strides) {
  const int64_t dims = t.dim();
  TORCH_CHECK(flip_mask >= 0 && flip_mask < (int64_t{1} << dims), op, ": flip mask ", flip_mask,
              " out of range for a tensor of ", dims, " dims");
  const uint8_t* base = t.data_ptr<uint8_t>();
  int64_t offset = 0;
  for (int64_t d = 0; d < dims; ++d) {
    strides[d] = t.stride(d);
    if (!(flip_mask & (int64_t{1} << d))) continue;
    if (t.size(d) > 0) offset += (t.size(d) - 1) * strides[d];
    strides[d] = -strides[d];
  }
  return base == nullptr ? nullptr : base + offset;
}

std::vector<ImageDesc> describe_images(const char* op, at::TensorList images, at::IntArrayRef flip_masks,
                                       int64_t& channels) {
  TORCH_CHECK(!images.empty(), op, ": images must not be empty");
  TORCH_CHECK(flip_masks.size() == images.size(), op, ": need one flip mask per image, got ", flip_masks.size(),
              " for ", images.size(), " images");
  std::vector<ImageDesc> out;
  out.reserve(images.size());
  channels = images[0].dim() == 3 ? images[0].size(2) : -1;
  for (size_t i = 0; i < images.size(); ++i) {
    const at::Tensor& img = images[i];
    TORCH_CHECK(img.scalar_type() == at::kByte, op, ": images[", i, "] must be uint8, got ", img.scalar_type());
    TORCH_CHECK(img.dim() == 3, op, ": images[", i, "] must be (H, W, C), got ", img.dim(), " dims");
    TORCH_CHECK(img.size(2) == channels, op, ": images[", i, "] has ", img.size(2), " channels, images[0] has ",
                channels);
    TORCH_CHECK(img.device() == images[0].device(), op, ": images[", i, "] is on ", img.device(), ", images[0] on ",
                images[0].device());
    int64_t strides[3];
    const uint8_t* data = flipped_origin(op, img, flip_masks[i], strides);
    out.push_back(ImageDesc{data, img.size(0), img.size(1), strides[0], strides[1], strides[2]});
  }
  // Every kernel is instantiated for 1 and 3 channels only: a 2-channel image would be read as 3.
  TORCH_CHECK(channels == 1 || channels == 3, op, ": images must have 1 or 3 channels, got ", channels);
  return out;
}

std::vector<ImageDesc> describe_packed(const char* op, const at::Tensor& data, const at::Tensor& offsets,
                                       const at::Tensor& sizes, int64_t channels) {
  TORCH_CHECK(data.scalar_type() == at::kByte && data.dim() == 1 && data.is_contiguous(), op,
              ": data must be a contiguous 1-D uint8 tensor");
  TORCH_CHECK(offsets.device().is_cpu() && sizes.device().is_cpu() && offsets.scalar_type() == at::kLong &&
                  sizes.scalar_type() == at::kLong,
              op, ": offsets and sizes must be int64 CPU tensors");
  TORCH_CHECK(offsets.dim() == 1 && sizes.dim() == 2 && sizes.size(1) == 2 && sizes.size(0) == offsets.size(0), op,
              ": offsets must be (N,) and sizes (N, 2), got ", offsets.sizes(), " and ", sizes.sizes());
  TORCH_CHECK(offsets.size(0) > 0, op, ": the batch must not be empty");
  TORCH_CHECK(channels == 1 || channels == 3, op, ": channels must be 1 or 3, got ", channels);
  const at::Tensor off = offsets.contiguous();
  const at::Tensor hw = sizes.contiguous();
  const int64_t* o = off.data_ptr<int64_t>();
  const int64_t* s = hw.data_ptr<int64_t>();
  const uint8_t* base = data.data_ptr<uint8_t>();
  std::vector<ImageDesc> out(off.size(0));
  for (int64_t i = 0; i < off.size(0); ++i) {
    const int64_t h = s[2 * i], w = s[2 * i + 1];
    TORCH_CHECK(h >= 0 && w >= 0 && o[i] >= 0 && o[i] <= data.numel(), op, ": image ", i,
                " has a negative size or an offset outside data");
    const int64_t available = data.numel() - o[i];  // divisions, not h * w * c, so huge sizes cannot overflow
    const bool fits = h == 0 || w == 0 || (w <= available / channels && h <= available / (w * channels));
    TORCH_CHECK(fits, op, ": image ", i, " (offset ", o[i], ", ", h, "x", w, "x", channels,
                ") runs past the end of data (", data.numel(), " bytes)");
    out[i] = ImageDesc{base == nullptr ? nullptr : base + o[i], h, w, w * channels, channels, 1};
  }
  return out;
}

}  // namespace fastload
