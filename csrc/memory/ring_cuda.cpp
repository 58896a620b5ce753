// Page-locking of ring memory (memory/ring.h) in the CUDA module: cudaHostRegister of a ring's device-copy mapping,
// as the ops fastload::_page_lock / _page_unlock that the ring (CPU module) calls through the dispatcher. A failure
// (WSL2, sandboxes, RLIMIT_MEMLOCK) is cleared from the runtime at once and returned, so the caller can report it and
// no later launch check in this thread mistakes it for a kernel error.
#include <cuda_runtime_api.h>
#include <torch/library.h>

#include <cstdint>
#include <string>

namespace fastload {
namespace {

std::string page_lock(int64_t address, int64_t bytes) {
  const cudaError_t err =
      cudaHostRegister(reinterpret_cast<void*>(address), static_cast<size_t>(bytes), cudaHostRegisterPortable);
  if (err == cudaSuccess) return "";
  (void)cudaGetLastError();
  return std::string("cudaHostRegister failed: ") + cudaGetErrorString(err);
}

void page_unlock(int64_t address) {
  if (cudaHostUnregister(reinterpret_cast<void*>(address)) != cudaSuccess) (void)cudaGetLastError();
}

}  // namespace

// memory/ring.h names these ops (kPageLockOp, kPageUnlockOp) for the ring that calls them.
TORCH_LIBRARY_FRAGMENT(fastload, m) {
  m.def("_page_lock(int address, int bytes) -> str", &page_lock);
  m.def("_page_unlock(int address) -> ()", &page_unlock);
}

}  // namespace fastload
