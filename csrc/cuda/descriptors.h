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

// Host data a kernel reads beside the image descriptors (e.g. resized_crop_batch's tap tables): `bytes` from
// `host`; `field` (a pointer member of the kernel description) receives its device address.
struct HostTable {
  const void* host;
  size_t bytes;
  void* field;
};

// Host `tables` (descriptors, tap tables) to the device for one launch, then `launch(params, stream)`: the tables go
// up in one pinned block and one asynchronous copy, each 16-byte aligned (no sync), their device addresses written
// into the fields of `params` they name. Refused under CUDA graph capture: a graph would record the copy from one
// pinned block and replay it after that block has been recycled.
template <typename Params, typename Launch>
void launch_with_tables(const char* op, Params& params, const at::Device& device, Launch launch,
                        const std::vector<HostTable>& tables) {
  TORCH_CHECK(c10::cuda::currentStreamCaptureStatusMayInitCtx() == c10::cuda::CaptureStatus::None, op,
              ": cannot be captured in a CUDA graph (each call uploads its image descriptors from pinned host memory, "
              "which a replay would not repeat); call it outside the capture, e.g. in the data pipeline");
  std::vector<size_t> offsets;
  size_t bytes = 0;
  for (const HostTable& part : tables) {
    offsets.push_back(bytes);
    bytes += (part.bytes + 15) / 16 * 16;
  }
  at::Tensor host = at::empty({static_cast<int64_t>(bytes)}, at::TensorOptions().dtype(at::kByte).pinned_memory(true));
  for (size_t i = 0; i < tables.size(); ++i) {
    std::memcpy(static_cast<uint8_t*>(host.data_ptr()) + offsets[i], tables[i].host, tables[i].bytes);
  }
  const at::Tensor on_device = host.to(device, /*non_blocking=*/true);
  for (size_t i = 0; i < tables.size(); ++i) {
    const void* address = static_cast<const uint8_t*>(on_device.data_ptr()) + offsets[i];
    std::memcpy(tables[i].field, &address, sizeof(address));  // the field is a typed pointer: copy the address in
  }
  launch(params, c10::cuda::getCurrentCUDAStream());
  C10_CUDA_KERNEL_LAUNCH_CHECK();
}

// The CUDA side of every batch op: `call` holds host descriptors (`images`), the kernel description (`params`, whose
// `images` field receives the device copy) and the result (`out`); the descriptors and any `tables` go up together
// (launch_with_tables).
template <typename Call, typename Launch>
at::Tensor launch_with_descriptors(const char* op, Call& call, const at::Device& device, Launch launch,
                                   const std::vector<HostTable>& tables = {}) {
  auto& p = call.params;
  std::vector<HostTable> parts{{call.images.data(), call.images.size() * sizeof(call.images[0]), &p.images}};
  parts.insert(parts.end(), tables.begin(), tables.end());
  launch_with_tables(op, p, device, launch, parts);
  return call.out;
}

}  // namespace fastload
