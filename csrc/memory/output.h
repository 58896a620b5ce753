// Output tensors of the compiled ops (output.cpp, built into the CPU and the CUDA module alike). CPU outputs come from
// fastload's caching allocator (cpu_cache.cpp, CPU module): a large output freed by the caller stays mapped and
// serves the next call of a fitting size, instead of returning to the OS and being faulted in again page by page (for
// a 38 MB batch that costs ten times the kernel). Other devices use their own (caching) allocators.
#pragma once
#include <ATen/core/Tensor.h>
#include <c10/core/Allocator.h>

#include <cstdint>
#include <optional>
#include <type_traits>
#include <vector>

namespace fastload {

// An uninitialized tensor of `sizes` and `strides` (in elements) with `options`' dtype and device; inside an
// `into` call (below), the caller's `out` instead, once it is checked to be exactly that tensor.
at::Tensor new_output(at::IntArrayRef sizes, at::IntArrayRef strides, const at::TensorOptions& options);

// The same, contiguous.
at::Tensor new_output(at::IntArrayRef sizes, const at::TensorOptions& options);

// The result of a batch op (pad_batch, resize_pad_batch, resized_crop_batch): (N, C, H, W) `float_dtype`,
// contiguous or with channels_last strides, when normalized; else (no float_dtype) an (N, H, W, C) uint8 batch.
at::Tensor new_batch_output(int64_t n, int64_t c, int64_t h, int64_t w, std::optional<at::ScalarType> float_dtype,
                            bool channels_last, const at::TensorOptions& options);

// A new uint8 (N, C, H, W) batch like `images`: channels_last strides if images has them (and is not also
// contiguous), else contiguous (the image ops that return a batch of images' shape: adjust_color, warp_affine).
at::Tensor new_image_batch_output(const at::Tensor& images);

// While it lives, the next new_output on this thread is `out` (checked against what the op would have allocated).
class OutputScope {
 public:
  OutputScope(const char* op, const at::Tensor& out);
  ~OutputScope();
  OutputScope(const OutputScope&) = delete;
  OutputScope& operator=(const OutputScope&) = delete;
};

// Fails if `out` shares memory with `input` (by address: a numpy view of the same bytes is another storage).
void check_no_overlap(const char* op, const at::Tensor& out, const at::Tensor& input, const char* input_name);

// For an op whose threads each read an element and write it back (or its pair): whether `out` is `input` itself
// (the same data and strides: in place, refused when an element surely repeats, torch's rule: a stride-0 dim; a
// strided view is "too hard" to prove either way and is taken), else checks that they do not overlap.
bool check_in_place_or_apart(const char* op, const at::Tensor& out, const at::Tensor& input, const char* input_name);

// The names of the `_into` ops (schemas.cpp defines them from their allocating twins).
inline constexpr char kAdjustColorNormalizeInto[] = "fastload::adjust_color_normalize_into";
inline constexpr char kDenormalizeInto[] = "fastload::denormalize_into";
inline constexpr char kPadBatchInto[] = "fastload::pad_batch_into";
inline constexpr char kPadBatchPackedInto[] = "fastload::pad_batch_packed_into";
inline constexpr char kResizePadBatchInto[] = "fastload::resize_pad_batch_into";
inline constexpr char kResizePadBatchPackedInto[] = "fastload::resize_pad_batch_packed_into";
inline constexpr char kResizedCropBatchInto[] = "fastload::resized_crop_batch_into";
inline constexpr char kResizedCropColorInto[] = "fastload::resized_crop_color_into";

// The `_into` form `Name` of an op implementation `Fn(args...) -> Tensor`: `run(args..., out)` checks that `out`
// overlaps no tensor argument, then runs Fn with `out` standing in for the tensor Fn allocates. One adapter serves
// every backend (CPU, CUDA, emulation) of denormalize, pad_batch and resize_pad_batch.
template <const char* Name, auto Fn>
struct Into;
template <const char* Name, typename... Args, at::Tensor (*Fn)(Args...)>
struct Into<Name, Fn> {
  static void run(Args... args, const at::Tensor& out) {
    (check_inputs(out, args), ...);
    const OutputScope scope(Name, out);
    const at::Tensor result = Fn(args...);
    TORCH_CHECK(result.is_same(out), Name, ": the op did not write into out");
  }

 private:
  template <typename T>
  static void check_inputs(const at::Tensor& out, const T& arg) {
    if constexpr (std::is_same_v<std::decay_t<T>, at::Tensor>) {
      check_no_overlap(Name, out, arg, "an input");
    } else if constexpr (std::is_same_v<std::decay_t<T>, at::TensorList>) {
      for (const at::Tensor& t : arg) check_no_overlap(Name, out, t, "an input image");
    }
  }
};

// Where new_output's CPU tensors come from: the CPU module installs its caching allocator when it loads; a module
// without one (the CUDA module, which makes no CPU outputs) allocates with at::empty_strided.
using CpuOutputAllocator = c10::Allocator* (*)();
void set_cpu_output_allocator(CpuOutputAllocator allocator);

}  // namespace fastload
