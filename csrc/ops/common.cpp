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

}  // namespace fastload
