// Helpers shared by the ops' argument checks (see common.h).
#include "ops/common.h"

#include <c10/util/Exception.h>

namespace fastload {

FloatDtype to_float_dtype(const char* op, at::ScalarType dtype) {
  switch (dtype) {
    case at::kFloat:
      return FloatDtype::kFloat32;
    case at::kHalf:
      return FloatDtype::kFloat16;
    case at::kBFloat16:
      return FloatDtype::kBFloat16;
    default:
      TORCH_CHECK(false, op, ": the float dtype must be float32, float16 or bfloat16, got ", dtype);
  }
}

void read_channel_map(const char* op, at::IntArrayRef channel_map, int64_t channels, int* out) {
  TORCH_CHECK(static_cast<int64_t>(channel_map.size()) == channels && channels <= 3, op,
              ": channel_map needs one entry per channel (", channels, "), got ", channel_map);
  bool seen[3] = {false, false, false};
  for (int64_t k = 0; k < channels; ++k) {
    TORCH_CHECK(channel_map[k] >= 0 && channel_map[k] < channels && !seen[channel_map[k]], op,
                ": channel_map must be a permutation of 0..", channels - 1, ", got ", channel_map);
    seen[channel_map[k]] = true;
    out[k] = static_cast<int>(channel_map[k]);
  }
}

void read_normalization(const char* op, at::ArrayRef<double> mean, at::ArrayRef<double> inv_std, int64_t channels,
                        float* mean_out, float* inv_std_out) {
  TORCH_CHECK(static_cast<int64_t>(mean.size()) == channels && static_cast<int64_t>(inv_std.size()) == channels, op,
              ": mean and inv_std need one value per channel (", channels, ")");
  for (int64_t k = 0; k < channels; ++k) {
    mean_out[k] = static_cast<float>(mean[k]);
    inv_std_out[k] = static_cast<float>(inv_std[k]);
  }
}

std::optional<at::ScalarType> read_batch_normalization(const char* op, std::optional<at::ArrayRef<double>> mean,
                                                       std::optional<at::ArrayRef<double>> inv_std,
                                                       std::optional<at::ScalarType> dtype, int64_t channels,
                                                       float* mean_out, float* inv_std_out, FloatDtype* dtype_out) {
  TORCH_CHECK(mean.has_value() == inv_std.has_value(), op, ": give both mean and inv_std, or neither");
  if (!mean.has_value()) {
    TORCH_CHECK(!dtype.has_value() || *dtype == at::kByte, op, ": without normalization the output is uint8, got ",
                *dtype);
    return std::nullopt;
  }
  read_normalization(op, *mean, *inv_std, channels, mean_out, inv_std_out);
  const at::ScalarType float_dtype = dtype.value_or(at::kFloat);
  *dtype_out = to_float_dtype(op, float_dtype);
  return float_dtype;
}

}  // namespace fastload
