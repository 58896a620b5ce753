// Per-image descriptors (plain structs) to device memory for one kernel launch: one small asynchronous copy from
// pinned host memory on the current stream. The returned tensor must stay referenced until the launch is enqueued;
// the caching allocators then keep both buffers alive until the copy and the kernel are done.
#pragma once
#include <ATen/ops/empty.h>

#include <cstring>
#include <vector>

namespace fastload {

template <typename Desc>
at::Tensor descriptors_to_device(const std::vector<Desc>& descs, const at::Device& device) {
  const int64_t bytes = static_cast<int64_t>(descs.size() * sizeof(Desc));
  at::Tensor host = at::empty({bytes}, at::TensorOptions().dtype(at::kByte).pinned_memory(true));
  std::memcpy(host.data_ptr(), descs.data(), static_cast<size_t>(bytes));
  return host.to(device, /*non_blocking=*/true);
}

}  // namespace fastload
