// fastload::resized_crop_batch: the argument checks shared by its kernels.
#include "ops/resized_crop_batch.h"

#include "ops/common.h"
#include "ops/image_inputs.h"
#include "memory/output.h"

namespace fastload {
namespace {

// A tap table: `dtype`, contiguous, shape (n, d[, k]), in host memory whatever the images' device (the CUDA op
// uploads it with the image descriptors, so checking it here costs no device sync).
void check_table(const char* op, const char* name, const at::Tensor& t, at::ScalarType dtype, int64_t n, int dims) {
  TORCH_CHECK(t.scalar_type() == dtype && t.dim() == dims && t.size(0) == n && t.is_contiguous() && t.is_cpu(), op,
              ": ", name, " must be a contiguous CPU ", dtype, " tensor of ", dims,
              " dims with one row per image, got ", t.scalar_type(), " ", t.sizes(), " on ", t.device());
}

// Every start, and every tap with a nonzero weight, must lie in the image: the kernels read those taps only (a
// zero-weight tap would add +0; the CPU kernel and the reference clamp them, the CUDA kernel skips them).
// Returns whether a weight is negative.
bool check_taps(const char* op, const char* name, const at::Tensor& starts, const at::Tensor& weights,
                const std::vector<ImageDesc>& images, bool rows) {
  const int64_t* s = starts.data_ptr<int64_t>();
  const float* w = weights.data_ptr<float>();
  const int64_t d = starts.size(1), k = weights.size(2);
  bool negative = false;
  for (size_t i = 0; i < images.size(); ++i) {
    const int64_t limit = rows ? images[i].h : images[i].w;
    for (int64_t j = 0; j < d; ++j) {
      const int64_t start = s[i * d + j];
      int64_t last = start;
      for (int64_t t = 0; t < k; ++t) {
        const float weight = w[(i * d + j) * k + t];
        if (weight != 0.0f) last = start + t;
        negative |= weight < 0.0f;
      }
      TORCH_CHECK(start >= 0 && last < limit, op, ": ", name, "[", i, ", ", j, "] = ", start, " with taps to ", last,
                  " reads outside image ", i, " (", images[i].h, "x", images[i].w, ")");
    }
  }
  return negative;
}

}  // namespace

ResizedCropCall describe_resized_crop_batch(at::TensorList images, at::IntArrayRef flip_masks,
                                            const at::Tensor& y_starts, const at::Tensor& y_weights,
                                            const at::Tensor& x_starts, const at::Tensor& x_weights,
                                            std::optional<at::ArrayRef<double>> mean,
                                            std::optional<at::ArrayRef<double>> inv_std, at::IntArrayRef channel_map,
                                            std::optional<at::ScalarType> dtype, bool channels_last, bool with_output) {
  const char* op = "fastload::resized_crop_batch";
  ResizedCropCall call;
  int64_t channels = 0;
  call.images = describe_images(op, images, flip_masks, channels);
  const int64_t n = static_cast<int64_t>(call.images.size());
  check_table(op, "y_starts", y_starts, at::kLong, n, 2);
  check_table(op, "x_starts", x_starts, at::kLong, n, 2);
  check_table(op, "y_weights", y_weights, at::kFloat, n, 3);
  check_table(op, "x_weights", x_weights, at::kFloat, n, 3);
  TORCH_CHECK(y_weights.size(1) == y_starts.size(1) && x_weights.size(1) == x_starts.size(1) && y_weights.size(2) > 0 &&
                  x_weights.size(2) > 0,
              op, ": the weight tables need one row of taps per start");
  const bool negative_rows = check_taps(op, "y_starts", y_starts, y_weights, call.images, true);
  const bool negative_columns = check_taps(op, "x_starts", x_starts, x_weights, call.images, false);
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
  p.bytes_between_passes = negative_rows || negative_columns;
  p.channels_last = channels_last;
  const std::optional<at::ScalarType> float_dtype =
      read_batch_normalization(op, mean, inv_std, dtype, channels, p.mean, p.inv_std, &p.dtype);
  if (!with_output) return call;
  call.out = new_batch_output(n, channels, p.out_h, p.out_w, float_dtype, channels_last, images[0].options());
  p.out = call.out.data_ptr();
  return call;
}

}  // namespace fastload
