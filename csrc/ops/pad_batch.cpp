// fastload::pad_batch / pad_batch_packed: the argument checks shared by the CPU and CUDA kernels.
#include "ops/pad_batch.h"

#include <cmath>

#include "ops/common.h"
#include "ops/image_inputs.h"
#include "memory/output.h"

namespace fastload {

namespace {

// Checks the batch-level arguments against the images, allocates the output on `device`, and returns the kernel
// description (its `images` field is left for the backend to set).
PadBatchParams describe_batch(const char* op, const std::vector<ImageDesc>& images, int64_t channels,
                              at::IntArrayRef batch_hw, const std::optional<at::ArrayRef<double>>& mean,
                              const std::optional<at::ArrayRef<double>>& inv_std, at::IntArrayRef channel_map,
                              at::ArrayRef<double> pad_value, std::optional<at::ScalarType> dtype, bool channels_last,
                              const at::TensorOptions& device, at::Tensor& out) {
  TORCH_CHECK(batch_hw.size() == 2 && batch_hw[0] >= 0 && batch_hw[1] >= 0, op, ": batch_hw must be (H, W) >= 0, got ",
              batch_hw);
  TORCH_CHECK(
      static_cast<int64_t>(channel_map.size()) == channels && static_cast<int64_t>(pad_value.size()) == channels, op,
      ": channel_map and pad_value need one value per channel (", channels, ")");
  PadBatchParams p{};
  p.n = static_cast<int64_t>(images.size());
  p.c = channels;
  p.out_h = batch_hw[0];
  p.out_w = batch_hw[1];
  for (int64_t i = 0; i < p.n; ++i) {
    TORCH_CHECK(images[i].h <= p.out_h && images[i].w <= p.out_w, op, ": image ", i, " (", images[i].h, "x",
                images[i].w, ") does not fit in the batch (", p.out_h, "x", p.out_w, ")");
  }
  read_channel_map(op, channel_map, channels, p.channel_map);
  p.normalize = mean.has_value();
  p.channels_last = channels_last;
  const std::optional<at::ScalarType> float_dtype =
      read_batch_normalization(op, mean, inv_std, dtype, channels, p.mean, p.inv_std, &p.dtype);
  if (p.normalize) {
    for (int64_t k = 0; k < channels; ++k) p.pad_value[k] = static_cast<float>(pad_value[k]);
  } else {
    for (int64_t k = 0; k < channels; ++k) {
      TORCH_CHECK(pad_value[k] >= 0 && pad_value[k] <= 255, op, ": a uint8 pad value must be in [0, 255], got ",
                  pad_value[k]);
      p.pad_byte[k] = static_cast<uint8_t>(std::lrint(pad_value[k]));
    }
  }
  out = new_batch_output(p.n, p.c, p.out_h, p.out_w, float_dtype, channels_last, device);
  p.out = out.data_ptr();
  return p;
}

}  // namespace

PadBatchCall describe_pad_batch(at::TensorList images, at::IntArrayRef flip_masks, at::IntArrayRef batch_hw,
                                std::optional<at::ArrayRef<double>> mean, std::optional<at::ArrayRef<double>> inv_std,
                                at::IntArrayRef channel_map, at::ArrayRef<double> pad_value,
                                std::optional<at::ScalarType> dtype, bool channels_last) {
  PadBatchCall call;
  int64_t channels = 0;
  const char* op = "fastload::pad_batch";
  call.images = describe_images(op, images, flip_masks, channels);
  call.params = describe_batch(op, call.images, channels, batch_hw, mean, inv_std, channel_map, pad_value, dtype,
                               channels_last, images[0].options(), call.out);
  return call;
}

PadBatchCall describe_pad_batch(const at::Tensor& data, const at::Tensor& offsets, const at::Tensor& sizes,
                                int64_t channels, at::IntArrayRef batch_hw, std::optional<at::ArrayRef<double>> mean,
                                std::optional<at::ArrayRef<double>> inv_std, at::IntArrayRef channel_map,
                                at::ArrayRef<double> pad_value, std::optional<at::ScalarType> dtype,
                                bool channels_last) {
  PadBatchCall call;
  const char* op = "fastload::pad_batch_packed";
  call.images = describe_packed(op, data, offsets, sizes, channels);
  call.params = describe_batch(op, call.images, channels, batch_hw, mean, inv_std, channel_map, pad_value, dtype,
                               channels_last, data.options(), call.out);
  return call;
}

}  // namespace fastload
