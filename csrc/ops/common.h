// Helpers shared by the ops' argument checks.
#pragma once
#include <c10/core/ScalarType.h>
#include <c10/util/ArrayRef.h>

#include "fastload/float_convert.h"

namespace fastload {

// float32 / float16 / bfloat16 -> FloatDtype; anything else is a TORCH_CHECK error naming the dtype.
FloatDtype to_float_dtype(at::ScalarType dtype);

// Checks that channel_map is a permutation of 0..channels-1 (channels <= 3) and copies it to `out`;
// `op` names the op in the error.
void read_channel_map(const char* op, at::IntArrayRef channel_map, int64_t channels, int* out);

}  // namespace fastload
