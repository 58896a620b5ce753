// Page-locking of ring memory (memory/ring.h) for the CUDA build: cudaHostRegister of a ring's device-copy mapping.
// A failure (WSL2, sandboxes, RLIMIT_MEMLOCK) is cleared from the runtime at once and returned, so the caller can
// report it and no later launch check in this thread mistakes it for a kernel error.
#include <cuda_runtime_api.h>

#include <string>

#include "memory/ring.h"

namespace fastload {
namespace {

std::string page_lock(void* address, int64_t bytes) {
  const cudaError_t err = cudaHostRegister(address, static_cast<size_t>(bytes), cudaHostRegisterPortable);
  if (err == cudaSuccess) return "";
  (void)cudaGetLastError();
  return std::string("cudaHostRegister failed: ") + cudaGetErrorString(err);
}

void page_unlock(void* address) {
  if (cudaHostUnregister(address) != cudaSuccess) (void)cudaGetLastError();
}

const bool registered = (ring::set_page_lock(page_lock, page_unlock), true);

}  // namespace
}  // namespace fastload
