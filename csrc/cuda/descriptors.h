// Per-image descriptors (plain structs) to device memory for one kernel launch: one small asynchronous copy from
// pinned host memory on the current stream. The returned tensor must stay referenced until the launch is enqueued;
// the caching allocators then keep both buffers alive until the copy and the kernel are done.
#pragma once
#include <ATen/ops/empty.h>
#include <c10/cuda/CUDAException.h>
#include <c10/cuda/CUDAGraphsC10Utils.h>
#include <c10/cuda/CUDAStream.h>

#include <cstring>
#include <vector>

namespace fastload {

// `descs` in device memory for a launch of `op` on the current stream. Refused under CUDA graph capture: a graph
// would record the upload from one pinned block and replay it after that block has been recycled.
template <typename Desc>
at::Tensor descriptors_to_device(const char* op, const std::vector<Desc>& descs, const at::Device& device) {
  TORCH_CHECK(c10::cuda::currentStreamCaptureStatusMayInitCtx() == c10::cuda::CaptureStatus::None, op,
              ": cannot be captured in a CUDA graph (each call uploads its image descriptors from pinned host memory, "
              "which a replay would not repeat); call it outside the capture, e.g. in the data pipeline");
  const int64_t bytes = static_cast<int64_t>(descs.size() * sizeof(Desc));
  at::Tensor host = at::empty({bytes}, at::TensorOptions().dtype(at::kByte).pinned_memory(true));
  std::memcpy(host.data_ptr(), descs.data(), static_cast<size_t>(bytes));
  return host.to(device, /*non_blocking=*/true);
}

// The CUDA side of every batch op: `call` holds host descriptors (`images`), the kernel description (`params`, whose
// `images` field receives the device copy) and the result (`out`); `launch(params, stream)` enqueues the kernel.
template <typename Call, typename Launch>
at::Tensor launch_with_descriptors(const char* op, Call& call, const at::Device& device, Launch launch) {
  auto& p = call.params;
  const at::Tensor on_device = descriptors_to_device(op, call.images, device);
  p.images = reinterpret_cast<decltype(p.images)>(on_device.data_ptr());
  launch(p, c10::cuda::getCurrentCUDAStream());
  C10_CUDA_KERNEL_LAUNCH_CHECK();
  return call.out;
}

}  // namespace fastload
