// fastload::pad_batch / pad_batch_packed: schemas and the argument checks shared by the CPU and CUDA kernels.
#include "ops/pad_batch.h"

#include <ATen/ops/empty.h>
#include <ATen/ops/empty_strided.h>
#include <torch/library.h>

#include <cmath>

#include "ops/common.h"

namespace fastload {

std::vector<ImageDesc> describe_images(at::TensorList images, at::IntArrayRef flip_masks, int64_t& channels) {
  TORCH_CHECK(!images.empty(), "fastload::pad_batch: images must not be empty");
  TORCH_CHECK(flip_masks.size() == images.size(), "fastload::pad_batch: need one flip mask per image, got ",
              flip_masks.size(), " for ", images.size(), " images");
  std::vector<ImageDesc> out;
  out.reserve(images.size());
  channels = images[0].dim() == 3 ? images[0].size(2) : -1;
  for (size_t i = 0; i < images.size(); ++i) {
    const at::Tensor& img = images[i];
    TORCH_CHECK(img.scalar_type() == at::kByte, "fastload::pad_batch: images[", i, "] must be uint8, got ",
                img.scalar_type());
    TORCH_CHECK(img.dim() == 3, "fastload::pad_batch: images[", i, "] must be (H, W, C), got ", img.dim(), " dims");
    TORCH_CHECK(img.size(2) == channels, "fastload::pad_batch: images[", i, "] has ", img.size(2),
                " channels, images[0] has ", channels);
    TORCH_CHECK(img.device() == images[0].device(), "fastload::pad_batch: images[", i, "] is on ", img.device(),
                ", images[0] on ", images[0].device());
    TORCH_CHECK(flip_masks[i] >= 0 && flip_masks[i] < 8, "fastload::pad_batch: flip mask ", flip_masks[i],
                " out of range");
    ImageDesc d{};
    d.h = img.size(0);
    d.w = img.size(1);
    d.stride_h = img.stride(0);
    d.stride_w = img.stride(1);
    d.stride_c = img.stride(2);
    const uint8_t* base = img.data_ptr<uint8_t>();
    int64_t offset = 0;
    int64_t* strides[3] = {&d.stride_h, &d.stride_w, &d.stride_c};
    const int64_t sizes[3] = {d.h, d.w, img.size(2)};
    for (int dim = 0; dim < 3; ++dim) {
      if (!(flip_masks[i] & (1 << dim))) continue;
      if (sizes[dim] > 0) offset += (sizes[dim] - 1) * *strides[dim];
      *strides[dim] = -*strides[dim];
    }
    d.data = base == nullptr ? nullptr : base + offset;
    out.push_back(d);
  }
  return out;
}

std::vector<ImageDesc> describe_packed(const at::Tensor& data, const at::Tensor& offsets, const at::Tensor& sizes,
                                       int64_t channels) {
  TORCH_CHECK(data.scalar_type() == at::kByte && data.dim() == 1 && data.is_contiguous(),
              "fastload::pad_batch_packed: data must be a contiguous 1-D uint8 tensor");
  TORCH_CHECK(offsets.device().is_cpu() && sizes.device().is_cpu() && offsets.scalar_type() == at::kLong &&
                  sizes.scalar_type() == at::kLong,
              "fastload::pad_batch_packed: offsets and sizes must be int64 CPU tensors");
  TORCH_CHECK(offsets.dim() == 1 && sizes.dim() == 2 && sizes.size(1) == 2 && sizes.size(0) == offsets.size(0),
              "fastload::pad_batch_packed: offsets must be (N,) and sizes (N, 2), got ", offsets.sizes(), " and ",
              sizes.sizes());
  TORCH_CHECK(offsets.size(0) > 0, "fastload::pad_batch_packed: the batch must not be empty");
  TORCH_CHECK(channels == 1 || channels == 3, "fastload::pad_batch_packed: channels must be 1 or 3, got ", channels);
  const at::Tensor off = offsets.contiguous();
  const at::Tensor hw = sizes.contiguous();
  const int64_t* o = off.data_ptr<int64_t>();
  const int64_t* s = hw.data_ptr<int64_t>();
  const uint8_t* base = data.data_ptr<uint8_t>();
  std::vector<ImageDesc> out(off.size(0));
  for (int64_t i = 0; i < off.size(0); ++i) {
    const int64_t h = s[2 * i], w = s[2 * i + 1];
    TORCH_CHECK(h >= 0 && w >= 0 && o[i] >= 0 && o[i] <= data.numel(), "fastload::pad_batch_packed: image ", i,
                " has a negative size or an offset outside data");
    const int64_t available = data.numel() - o[i];  // divisions, not h * w * c, so huge sizes cannot overflow
    const bool fits = h == 0 || w == 0 || (w <= available / channels && h <= available / (w * channels));
    TORCH_CHECK(fits, "fastload::pad_batch_packed: image ", i, " (offset ", o[i], ", ", h, "x", w, "x", channels,
                ") runs past the end of data (", data.numel(), " bytes)");
    out[i] = ImageDesc{base == nullptr ? nullptr : base + o[i], h, w, w * channels, channels, 1};
  }
  return out;
}

PadBatchParams prepare_pad_batch(const std::vector<ImageDesc>& images, int64_t channels, at::IntArrayRef batch_hw,
                                 const std::optional<at::ArrayRef<double>>& mean,
                                 const std::optional<at::ArrayRef<double>>& inv_std, at::IntArrayRef channel_map,
                                 at::ArrayRef<double> pad_value, std::optional<at::ScalarType> dtype,
                                 bool channels_last, const at::TensorOptions& device, at::Tensor& out) {
  TORCH_CHECK(channels == 1 || channels == 3, "fastload::pad_batch: images must have 1 or 3 channels, got ", channels);
  TORCH_CHECK(batch_hw.size() == 2 && batch_hw[0] >= 0 && batch_hw[1] >= 0,
              "fastload::pad_batch: batch_hw must be (H, W) >= 0, got ", batch_hw);
  TORCH_CHECK(mean.has_value() == inv_std.has_value(), "fastload::pad_batch: give both mean and inv_std, or neither");
  TORCH_CHECK(static_cast<int64_t>(channel_map.size()) == channels &&
                  static_cast<int64_t>(pad_value.size()) == channels,
              "fastload::pad_batch: channel_map and pad_value need one value per channel (", channels, ")");
  PadBatchParams p{};
  p.n = static_cast<int64_t>(images.size());
  p.c = channels;
  p.out_h = batch_hw[0];
  p.out_w = batch_hw[1];
  for (int64_t i = 0; i < p.n; ++i) {
    TORCH_CHECK(images[i].h <= p.out_h && images[i].w <= p.out_w, "fastload::pad_batch: image ", i, " (",
                images[i].h, "x", images[i].w, ") does not fit in the batch (", p.out_h, "x", p.out_w, ")");
  }
  read_channel_map("fastload::pad_batch", channel_map, channels, p.channel_map);
  p.normalize = mean.has_value();
  p.channels_last = channels_last;
  const int64_t n = p.n, c = p.c, h = p.out_h, w = p.out_w;
  if (p.normalize) {
    TORCH_CHECK(static_cast<int64_t>(mean->size()) == channels && static_cast<int64_t>(inv_std->size()) == channels,
                "fastload::pad_batch: mean and inv_std need one value per channel (", channels, ")");
    const at::ScalarType out_dtype = dtype.value_or(at::kFloat);
    p.dtype = to_float_dtype(out_dtype);
    for (int64_t k = 0; k < channels; ++k) {
      p.mean[k] = static_cast<float>((*mean)[k]);
      p.inv_std[k] = static_cast<float>((*inv_std)[k]);
      p.pad_value[k] = static_cast<float>(pad_value[k]);
    }
    out = channels_last ? at::empty_strided({n, c, h, w}, {h * w * c, 1, w * c, c}, device.dtype(out_dtype))
                        : at::empty({n, c, h, w}, device.dtype(out_dtype));
  } else {
    TORCH_CHECK(!dtype.has_value() || *dtype == at::kByte,
                "fastload::pad_batch: without normalization the output is uint8, got dtype ", *dtype);
    for (int64_t k = 0; k < channels; ++k) {
      TORCH_CHECK(pad_value[k] >= 0 && pad_value[k] <= 255, "fastload::pad_batch: a uint8 pad value must be in [0, 255], got ",
                  pad_value[k]);
      p.pad_byte[k] = static_cast<uint8_t>(std::lrint(pad_value[k]));
    }
    out = at::empty({n, h, w, c}, device.dtype(at::kByte));
  }
  p.out = out.data_ptr();
  return p;
}

PadBatchCall prepare_pad_batch_list(at::TensorList images, at::IntArrayRef flip_masks, at::IntArrayRef batch_hw,
                                    std::optional<at::ArrayRef<double>> mean,
                                    std::optional<at::ArrayRef<double>> inv_std, at::IntArrayRef channel_map,
                                    at::ArrayRef<double> pad_value, std::optional<at::ScalarType> dtype,
                                    bool channels_last) {
  PadBatchCall call;
  int64_t channels = 0;
  call.images = describe_images(images, flip_masks, channels);
  call.params = prepare_pad_batch(call.images, channels, batch_hw, mean, inv_std, channel_map, pad_value, dtype,
                                  channels_last, images[0].options(), call.out);
  return call;
}

PadBatchCall prepare_pad_batch_packed(const at::Tensor& data, const at::Tensor& offsets, const at::Tensor& sizes,
                                      int64_t channels, at::IntArrayRef batch_hw,
                                      std::optional<at::ArrayRef<double>> mean,
                                      std::optional<at::ArrayRef<double>> inv_std, at::IntArrayRef channel_map,
                                      at::ArrayRef<double> pad_value, std::optional<at::ScalarType> dtype,
                                      bool channels_last) {
  PadBatchCall call;
  call.images = describe_packed(data, offsets, sizes, channels);
  call.params = prepare_pad_batch(call.images, channels, batch_hw, mean, inv_std, channel_map, pad_value, dtype,
                                  channels_last, data.options(), call.out);
  return call;
}

TORCH_LIBRARY_FRAGMENT(fastload, m) {
  // mean/inv_std None: a padded uint8 (N, Hp, Wp, C) batch in the input's channel order.
  m.def(
      "pad_batch(Tensor[] images, int[] flip_masks, int[] batch_hw, float[]? mean, float[]? inv_std, "
      "int[] channel_map, float[] pad_value, ScalarType? dtype, bool channels_last) -> Tensor");
  m.def(
      "pad_batch_packed(Tensor data, Tensor offsets, Tensor sizes, int channels, int[] batch_hw, float[]? mean, "
      "float[]? inv_std, int[] channel_map, float[] pad_value, ScalarType? dtype, bool channels_last) -> Tensor");
}

}  // namespace fastload
