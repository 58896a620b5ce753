// Helpers shared by the ops' argument checks.
#pragma once
#include <c10/core/ScalarType.h>

#include "fastload/float_convert.h"

namespace fastload {

// float32 / float16 / bfloat16 -> FloatDtype; anything else is a TORCH_CHECK error naming the dtype.
FloatDtype to_float_dtype(at::ScalarType dtype);

}  // namespace fastload
