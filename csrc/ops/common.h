// Helpers shared by the ops' argument checks; `op` names the op that was called in every message.
#pragma once
#include <c10/core/ScalarType.h>
#include <c10/util/ArrayRef.h>

#include "fastload/float_convert.h"

namespace fastload {

// float32 / float16 / bfloat16 -> FloatDtype; anything else is a TORCH_CHECK error naming the op and the dtype.
FloatDtype to_float_dtype(const char* op, at::ScalarType dtype);

// Checks that channel_map is a permutation of 0..channels-1 (channels <= 3) and copies it to `out`.
void read_channel_map(const char* op, at::IntArrayRef channel_map, int64_t channels, int* out);

}  // namespace fastload
