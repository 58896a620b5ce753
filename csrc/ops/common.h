// Helpers shared by the ops' argument checks; `op` names the op that was called in every message.
#pragma once
#include <c10/core/ScalarType.h>
#include <c10/util/ArrayRef.h>

#include <optional>

#include "math/float_convert.h"

namespace fastload {

// float32 / float16 / bfloat16 -> FloatDtype; anything else is a TORCH_CHECK error naming the op and the dtype.
FloatDtype to_float_dtype(const char* op, at::ScalarType dtype);

// Checks that mean and inv_std hold one value per channel and copies them, rounded to fp32, to the outputs.
void read_normalization(const char* op, at::ArrayRef<double> mean, at::ArrayRef<double> inv_std, int64_t channels,
                        float* mean_out, float* inv_std_out);

// The output dtype of a batch op that normalizes when given mean and inv_std (read into mean_out / inv_std_out,
// the float dtype into dtype_out; default float32); without them, checks that `dtype` is unset or uint8 and returns
// nullopt (the op copies uint8).
std::optional<at::ScalarType> read_batch_normalization(const char* op, std::optional<at::ArrayRef<double>> mean,
                                                       std::optional<at::ArrayRef<double>> inv_std,
                                                       std::optional<at::ScalarType> dtype, int64_t channels,
                                                       float* mean_out, float* inv_std_out, FloatDtype* dtype_out);

// Checks that channel_map is a permutation of 0..channels-1 (channels <= 3) and copies it to `out`.
void read_channel_map(const char* op, at::IntArrayRef channel_map, int64_t channels, int* out);

}  // namespace fastload
