#include "ops/common.h"

#include <c10/util/Exception.h>

namespace fastload {

FloatDtype to_float_dtype(at::ScalarType dtype) {
  switch (dtype) {
    case at::kFloat:
      return FloatDtype::kFloat32;
    case at::kHalf:
      return FloatDtype::kFloat16;
    case at::kBFloat16:
      return FloatDtype::kBFloat16;
    default:
      TORCH_CHECK(false, "fastload: the float dtype must be float32, float16 or bfloat16, got ", dtype);
  }
}

}  // namespace fastload
