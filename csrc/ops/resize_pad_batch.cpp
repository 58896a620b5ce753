// fastload::resize_pad_batch(_packed): the argument checks shared by the CPU and CUDA kernels.
#include "ops/resize_pad_batch.h"

#include <string>

#include "ops/common.h"
#include "ops/image_inputs.h"
#include "memory/output.h"

namespace fastload {
namespace {

Interpolation parse_interpolation(const char* op, c10::string_view name) {
  if (name == "bilinear") return Interpolation::kBilinear;
  TORCH_CHECK(name == "nearest", op, ": interpolation must be 'bilinear' or 'nearest', got '", std::string(name), "'");
  return Interpolation::kNearest;
}

ResizePadBatchCall describe(const char* op, std::vector<ImageDesc> sources, int64_t channels, at::IntArrayRef new_sizes,
                            at::IntArrayRef batch_hw, at::ArrayRef<double> mean, at::ArrayRef<double> inv_std,
                            at::IntArrayRef channel_map, at::ArrayRef<double> pad_value, c10::string_view interpolation,
                            at::ScalarType dtype, bool channels_last, const at::TensorOptions& device) {
  const int64_t n = static_cast<int64_t>(sources.size());
  TORCH_CHECK(static_cast<int64_t>(new_sizes.size()) == 2 * n, op, ": new_sizes needs an (h, w) per image, got ",
              new_sizes.size(), " values for ", n, " images");
  TORCH_CHECK(batch_hw.size() == 2 && batch_hw[0] >= 0 && batch_hw[1] >= 0, op, ": batch_hw must be (H, W) >= 0");
  TORCH_CHECK(static_cast<int64_t>(pad_value.size()) == channels, op, ": pad_value needs one value per channel (",
              channels, ")");
  ResizePadBatchCall call;
  ResizePadBatchParams& p = call.params;
  p = ResizePadBatchParams{};
  p.n = n;
  p.c = channels;
  p.out_h = batch_hw[0];
  p.out_w = batch_hw[1];
  p.interpolation = parse_interpolation(op, interpolation);
  p.dtype = to_float_dtype(op, dtype);
  p.channels_last = channels_last;
  read_channel_map(op, channel_map, channels, p.channel_map);
  read_normalization(op, mean, inv_std, channels, p.mean, p.inv_std);
  for (int64_t k = 0; k < channels; ++k) p.pad_value[k] = static_cast<float>(pad_value[k]);
  call.images.resize(n);
  for (int64_t i = 0; i < n; ++i) {
    ResizeDesc& r = call.images[i];
    r.src = sources[i];
    r.new_h = new_sizes[2 * i];
    r.new_w = new_sizes[2 * i + 1];
    TORCH_CHECK(r.new_h >= 0 && r.new_w >= 0 && r.new_h <= p.out_h && r.new_w <= p.out_w, op, ": image ", i,
                " resized to ", r.new_h, "x", r.new_w, " does not fit in the batch (", p.out_h, "x", p.out_w, ")");
    TORCH_CHECK(r.new_h * r.new_w == 0 || (r.src.h > 0 && r.src.w > 0), op, ": image ", i,
                " is empty and cannot be resized to ", r.new_h, "x", r.new_w);
    r.scale_y = r.new_h > 0 ? 1.0 / (static_cast<double>(r.new_h) / static_cast<double>(r.src.h)) : 0.0;
    r.scale_x = r.new_w > 0 ? 1.0 / (static_cast<double>(r.new_w) / static_cast<double>(r.src.w)) : 0.0;
  }
  call.out = new_batch_output(n, channels, p.out_h, p.out_w, dtype, channels_last, device);
  p.out = call.out.data_ptr();
  return call;
}

}  // namespace

ResizePadBatchCall describe_resize_pad_batch(at::TensorList images, at::IntArrayRef flip_masks,
                                             at::IntArrayRef new_sizes, at::IntArrayRef batch_hw,
                                             at::ArrayRef<double> mean, at::ArrayRef<double> inv_std,
                                             at::IntArrayRef channel_map, at::ArrayRef<double> pad_value,
                                             c10::string_view interpolation, at::ScalarType dtype, bool channels_last) {
  const char* op = "fastload::resize_pad_batch";
  int64_t channels = 0;
  std::vector<ImageDesc> sources = describe_images(op, images, flip_masks, channels);
  return describe(op, std::move(sources), channels, new_sizes, batch_hw, mean, inv_std, channel_map, pad_value,
                  interpolation, dtype, channels_last, images[0].options());
}

ResizePadBatchCall describe_resize_pad_batch(const at::Tensor& data, const at::Tensor& offsets, const at::Tensor& sizes,
                                             int64_t channels, at::IntArrayRef new_sizes, at::IntArrayRef batch_hw,
                                             at::ArrayRef<double> mean, at::ArrayRef<double> inv_std,
                                             at::IntArrayRef channel_map, at::ArrayRef<double> pad_value,
                                             c10::string_view interpolation, at::ScalarType dtype, bool channels_last) {
  const char* op = "fastload::resize_pad_batch_packed";
  return describe(op, describe_packed(op, data, offsets, sizes, channels), channels, new_sizes, batch_hw, mean, inv_std,
                  channel_map, pad_value, interpolation, dtype, channels_last, data.options());
}

}  // namespace fastload
