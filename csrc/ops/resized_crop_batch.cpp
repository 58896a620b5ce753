// fastload::resized_crop_batch: the argument checks shared by its kernels.
#include "ops/resized_crop_batch.h"

#include "ops/common.h"
#include "ops/images.h"
#include "ops/output.h"

namespace fastload {
namespace {

// A tap table: `dtype`, contiguous, shape (n, d[, k]), on the images' device.
void check_table(const char* op, const char* name, const at::Tensor& t, at::ScalarType dtype, int64_t n, int dims,
                 const at::Device& device) {
  TORCH_CHECK(t.scalar_type() == dtype && t.dim() == dims && t.size(0) == n && t.is_contiguous() &&
                  t.device() == device,
              op, ": ", name, " must be a contiguous ", dtype, " tensor of ", dims, " dims with one row per image on ",
              device, ", got ", t.scalar_type(), " ", t.sizes(), " on ", t.device());
}

// Every start must lie in the image (padded taps are clamped to it, so the start is the only index to check).
void check_starts(const char* op, const char* name, const at::Tensor& starts, const std::vector<ImageDesc>& images,
                  bool rows) {
  const at::Tensor host = starts.cpu();
  const int64_t* s = host.data_ptr<int64_t>();
  const int64_t d = starts.size(1);
  for (size_t i = 0; i < images.size(); ++i) {
    const int64_t limit = rows ? images[i].h : images[i].w;
    for (int64_t j = 0; j < d; ++j) {
      TORCH_CHECK(s[i * d + j] >= 0 && s[i * d + j] < limit, op, ": ", name, "[", i, ", ", j, "] = ", s[i * d + j],
                  " is outside image ", i, " (", images[i].h, "x", images[i].w, ")");
    }
  }
}

}  // namespace

ResizedCropCall describe_resized_crop_batch(at::TensorList images, at::IntArrayRef flip_masks,
                                            const at::Tensor& y_starts, const at::Tensor& y_weights,
                                            const at::Tensor& x_starts, const at::Tensor& x_weights,
                                            std::optional<at::ArrayRef<double>> mean,
                                            std::optional<at::ArrayRef<double>> inv_std, at::IntArrayRef channel_map,
                                            std::optional<at::ScalarType> dtype, bool channels_last) {
  const char* op = "fastload::resized_crop_batch";
  ResizedCropCall call;
  int64_t channels = 0;
  call.images = describe_images(op, images, flip_masks, channels);
  const int64_t n = static_cast<int64_t>(call.images.size());
  const at::Device device = images[0].device();
  check_table(op, "y_starts", y_starts, at::kLong, n, 2, device);
  check_table(op, "x_starts", x_starts, at::kLong, n, 2, device);
  check_table(op, "y_weights", y_weights, at::kFloat, n, 3, device);
  check_table(op, "x_weights", x_weights, at::kFloat, n, 3, device);
  TORCH_CHECK(y_weights.size(1) == y_starts.size(1) && x_weights.size(1) == x_starts.size(1) &&
                  y_weights.size(2) > 0 && x_weights.size(2) > 0,
              op, ": the weight tables need one row of taps per start");
  check_starts(op, "y_starts", y_starts, call.images, true);
  check_starts(op, "x_starts", x_starts, call.images, false);
  TORCH_CHECK(mean.has_value() == inv_std.has_value(), op, ": give both mean and inv_std, or neither");
  TORCH_CHECK(static_cast<int64_t>(channel_map.size()) == channels, op, ": channel_map needs one value per channel (",
              channels, ")");

  ResizedCropParams& p = call.params;
  p = ResizedCropParams{};
  p.n = n;
  p.c = channels;
  p.out_h = y_starts.size(1);
  p.out_w = x_starts.size(1);
  p.ky = y_weights.size(2);
  p.kx = x_weights.size(2);
  p.y_starts = y_starts.data_ptr<int64_t>();
  p.y_weights = y_weights.data_ptr<float>();
  p.x_starts = x_starts.data_ptr<int64_t>();
  p.x_weights = x_weights.data_ptr<float>();
  read_channel_map(op, channel_map, channels, p.channel_map);
  p.normalize = mean.has_value();
  p.channels_last = channels_last;
  const int64_t c = channels, h = p.out_h, w = p.out_w;
  const at::TensorOptions options = images[0].options();
  if (p.normalize) {
    TORCH_CHECK(static_cast<int64_t>(mean->size()) == channels && static_cast<int64_t>(inv_std->size()) == channels,
                op, ": mean and inv_std need one value per channel (", channels, ")");
    const at::ScalarType out_dtype = dtype.value_or(at::kFloat);
    p.dtype = to_float_dtype(op, out_dtype);
    for (int64_t k = 0; k < channels; ++k) {
      p.mean[k] = static_cast<float>((*mean)[k]);
      p.inv_std[k] = static_cast<float>((*inv_std)[k]);
    }
    call.out = channels_last ? new_output({n, c, h, w}, {h * w * c, 1, w * c, c}, options.dtype(out_dtype))
                             : new_output({n, c, h, w}, options.dtype(out_dtype));
  } else {
    TORCH_CHECK(!dtype.has_value() || *dtype == at::kByte, op, ": without normalization the output is uint8, got ",
                *dtype);
    call.out = new_output({n, h, w, c}, options.dtype(at::kByte));
  }
  p.out = call.out.data_ptr();
  return call;
}

}  // namespace fastload
