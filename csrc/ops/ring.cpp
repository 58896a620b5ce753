// The consumer side of fastload's shared-memory batch ring (fastload/ring.py): the process's mapped rings, and
// tensors viewing bytes of one of their slots, whose deleter hands the slot back to the producing worker by storing
// 0 into the slot's state word in the ring's shared header once the last view of the bytes is gone. Views are only
// made inside a registered ring, so a wrong offset is an error, never a stray pointer.
#include <ATen/ops/from_blob.h>
#include <c10/util/Exception.h>
#include <torch/library.h>

#include <unistd.h>

#include <cstdint>
#include <map>
#include <mutex>

namespace fastload {
namespace {

struct Mapping {
  uintptr_t address;
  int64_t bytes;
};

std::mutex rings_lock;
std::map<int64_t, Mapping> rings;  // handle -> mapping
int64_t next_handle = 1;

int64_t ring_register(int64_t address, int64_t bytes) {
  TORCH_CHECK(address != 0 && address % 4096 == 0 && bytes > 0,
              "fastload::_ring_register: a ring is a page-aligned mapping, got address ", address, ", ", bytes,
              " bytes");
  const std::lock_guard<std::mutex> guard(rings_lock);
  rings[next_handle] = Mapping{static_cast<uintptr_t>(address), bytes};
  return next_handle++;
}

void ring_unregister(int64_t ring) {
  const std::lock_guard<std::mutex> guard(rings_lock);
  TORCH_CHECK(rings.erase(ring) == 1, "fastload::_ring_unregister: no ring ", ring);
}

at::Tensor ring_view(int64_t ring, int64_t offset, int64_t nbytes, int64_t state_offset) {
  Mapping m;
  {
    const std::lock_guard<std::mutex> guard(rings_lock);
    const auto it = rings.find(ring);
    TORCH_CHECK(it != rings.end(), "fastload::_ring_view: no ring ", ring);
    m = it->second;
  }
  TORCH_CHECK(offset >= 0 && nbytes >= 0 && offset <= m.bytes - nbytes && state_offset >= 0 && state_offset % 4 == 0 &&
                  state_offset <= m.bytes - 4,
              "fastload::_ring_view: slot (offset ", offset, ", ", nbytes, " bytes, state word at ", state_offset,
              ") outside ring ", ring, " (", m.bytes, " bytes)");
  auto* state = reinterpret_cast<uint32_t*>(m.address + static_cast<uintptr_t>(state_offset));
  const pid_t owner = getpid();
  // A process forked while the view is alive (a DataLoader worker) inherits the ring's mapping, shared, and a copy
  // of the view: only the process that made the view may hand the slot back, or the child's copy dying would free
  // the slot under the parent's live view.
  auto release = [state, owner](void*) {
    if (getpid() == owner) __atomic_store_n(state, 0u, __ATOMIC_RELEASE);  // the worker may write the slot again
  };
  return at::from_blob(reinterpret_cast<void*>(m.address + static_cast<uintptr_t>(offset)), {nbytes}, release,
                       at::TensorOptions().dtype(at::kByte));
}

}  // namespace

TORCH_LIBRARY_FRAGMENT(fastload, m) {
  m.def("_ring_register(int address, int bytes) -> int", &ring_register);
  m.def("_ring_unregister(int ring) -> ()", &ring_unregister);
  m.def("_ring_view(int ring, int offset, int nbytes, int state_offset) -> Tensor", &ring_view);
}

}  // namespace fastload
