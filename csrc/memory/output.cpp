// Output tensors of the compiled ops (output.h), in every module: an `_into` call's buffer, else a new tensor, CPU
// ones from the allocator the CPU module installs (its caching allocator, cpu_cache.cpp).
#include "memory/output.h"

#include <ATen/EmptyTensor.h>
#include <ATen/MemoryOverlap.h>
#include <ATen/ops/empty_strided.h>
#include <c10/util/Exception.h>
#include <c10/util/strides.h>

#include <cstdint>
#include <utility>

namespace fastload {
namespace {

CpuOutputAllocator cpu_allocator = nullptr;

// The caller's buffer of the `_into` op running on this thread, until new_output takes it.
struct Requested {
  const char* op = nullptr;
  const at::Tensor* out = nullptr;
};
thread_local Requested requested;

// First and last byte address of a non-empty tensor (torch strides are never negative).
std::pair<uintptr_t, uintptr_t> byte_range(const at::Tensor& t) {
  int64_t last = 0;
  for (int64_t d = 0; d < t.dim(); ++d) last += (t.size(d) - 1) * t.stride(d);
  const auto first = reinterpret_cast<uintptr_t>(t.data_ptr());
  return {first, first + static_cast<uintptr_t>((last + 1) * t.element_size()) - 1};
}

// `out` must be exactly the tensor the op would have allocated; a dim of size 1 may carry any stride, and an empty
// tensor any strides.
const at::Tensor& take_requested(at::IntArrayRef sizes, at::IntArrayRef strides, const at::TensorOptions& options) {
  const char* op = requested.op;
  const at::Tensor& out = *requested.out;
  requested = Requested{};
  TORCH_CHECK(out.device() == options.device() ||
                  (out.device().type() == options.device().type() && !options.device().has_index()),
              op, ": out is on ", out.device(), ", the inputs on ", options.device());
  TORCH_CHECK(out.scalar_type() == options.dtype().toScalarType(), op, ": out must be ", options.dtype().toScalarType(),
              ", got ", out.scalar_type());
  TORCH_CHECK(out.sizes() == sizes, op, ": out must have shape ", sizes, ", got ", out.sizes());
  for (int64_t d = 0; d < out.dim() && out.numel() > 0; ++d) {
    TORCH_CHECK(out.size(d) <= 1 || out.stride(d) == strides[d], op, ": out must have strides ", strides,
                " (the layout asked for), got ", out.strides());
  }
  return out;
}

}  // namespace

void set_cpu_output_allocator(CpuOutputAllocator allocator) { cpu_allocator = allocator; }

OutputScope::OutputScope(const char* op, const at::Tensor& out) { requested = Requested{op, &out}; }

OutputScope::~OutputScope() { requested = Requested{}; }

void check_no_overlap(const char* op, const at::Tensor& out, const at::Tensor& input, const char* input_name) {
  if (out.numel() == 0 || input.numel() == 0 || out.device() != input.device()) return;
  const auto a = byte_range(out), b = byte_range(input);
  TORCH_CHECK(a.second < b.first || b.second < a.first, op, ": out overlaps ", input_name,
              " in memory (the op would overwrite values it has still to read)");
}

bool check_in_place_or_apart(const char* op, const at::Tensor& out, const at::Tensor& input, const char* input_name) {
  const bool in_place = out.data_ptr() == input.data_ptr() && out.strides() == input.strides();
  if (in_place) {
    TORCH_CHECK(at::has_internal_overlap(out) != at::MemOverlap::Yes, op, ": ", input_name,
                " holds one element at several indices (an expanded tensor): it cannot be written in place");
  } else {
    check_no_overlap(op, out, input, input_name);
  }
  return in_place;
}

at::Tensor new_output(at::IntArrayRef sizes, at::IntArrayRef strides, const at::TensorOptions& options) {
  if (requested.out != nullptr) return take_requested(sizes, strides, options);
  if (!options.device().is_cpu() || cpu_allocator == nullptr) return at::empty_strided(sizes, strides, options);
  return at::detail::empty_strided_generic(sizes, strides, cpu_allocator(), c10::DispatchKeySet(c10::DispatchKey::CPU),
                                           options.dtype().toScalarType());
}

at::Tensor new_output(at::IntArrayRef sizes, const at::TensorOptions& options) {
  return new_output(sizes, c10::contiguous_strides(sizes), options);
}

at::Tensor new_image_batch_output(const at::Tensor& images) {
  const bool channels_last = images.is_contiguous(at::MemoryFormat::ChannelsLast) && !images.is_contiguous();
  const int64_t c = images.size(1), h = images.size(2), w = images.size(3);
  if (channels_last) return new_output(images.sizes(), {h * w * c, 1, w * c, c}, images.options());
  return new_output(images.sizes(), images.options());
}

at::Tensor new_batch_output(int64_t n, int64_t c, int64_t h, int64_t w, std::optional<at::ScalarType> float_dtype,
                            bool channels_last, const at::TensorOptions& options) {
  if (!float_dtype.has_value()) return new_output({n, h, w, c}, options.dtype(at::kByte));
  if (channels_last) return new_output({n, c, h, w}, {h * w * c, 1, w * c, c}, options.dtype(*float_dtype));
  return new_output({n, c, h, w}, options.dtype(*float_dtype));
}

}  // namespace fastload
