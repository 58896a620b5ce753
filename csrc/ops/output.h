// Output tensors of the compiled ops. CPU outputs come from fastload's caching allocator (cpu_cache.cpp): a large
// output freed by the caller stays mapped and serves the next call of a fitting size, instead of returning to the OS
// and being faulted in again page by page (for a 38 MB batch that costs ten times the kernel). Other devices use
// their own (caching) allocators.
#pragma once
#include <ATen/core/Tensor.h>

#include <cstdint>
#include <vector>

namespace fastload {

// An uninitialized tensor of `sizes` and `strides` (in elements) with `options`' dtype and device.
at::Tensor new_output(at::IntArrayRef sizes, at::IntArrayRef strides, const at::TensorOptions& options);

// The same, contiguous.
at::Tensor new_output(at::IntArrayRef sizes, const at::TensorOptions& options);

// The cache's counters, in the order of kCacheStatNames (fastload/memory.py names them).
std::vector<int64_t> cpu_cache_stats();

// Returns every cached (free) block to the OS; blocks in use are untouched.
void cpu_cache_empty();

// Sets the most bytes the cache may hold in free blocks (0 disables caching: outputs then come from, and return to,
// the ordinary CPU allocator). Trims the cache to the new bound.
void cpu_cache_set_limit(int64_t bytes);

}  // namespace fastload
