// The consumer side of fastload's shared-memory batch ring (fastload/ring.py): a tensor viewing bytes of a slot
// that the process has mapped, whose deleter hands the slot back to the producing worker by storing 0 into the
// slot's state word in the ring's shared header once the last view of the bytes is gone.
#include <ATen/ops/from_blob.h>
#include <c10/util/Exception.h>
#include <torch/library.h>

#include <unistd.h>

#include <cstdint>

namespace fastload {
namespace {

at::Tensor ring_view(int64_t address, int64_t nbytes, int64_t state_address) {
  TORCH_CHECK(address != 0 && nbytes >= 0 && state_address != 0 && state_address % 4 == 0,
              "fastload::_ring_view: bad slot (address ", address, ", ", nbytes, " bytes, state word ", state_address,
              ")");
  auto* state = reinterpret_cast<uint32_t*>(state_address);
  const pid_t owner = getpid();
  // A process forked while the view is alive (a DataLoader worker) inherits the ring's mapping, shared, and a copy
  // of the view: only the process that made the view may hand the slot back, or the child's copy dying would free
  // the slot under the parent's live view.
  auto release = [state, owner](void*) {
    if (getpid() == owner) __atomic_store_n(state, 0u, __ATOMIC_RELEASE);  // the worker may write the slot again
  };
  return at::from_blob(reinterpret_cast<void*>(address), {nbytes}, release, at::TensorOptions().dtype(at::kByte));
}

}  // namespace

TORCH_LIBRARY_FRAGMENT(fastload, m) {
  m.def("_ring_view(int address, int nbytes, int state_address) -> Tensor", &ring_view);
}

}  // namespace fastload
