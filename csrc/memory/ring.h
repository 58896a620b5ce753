// fastload's shared-memory batch rings (fastload/memory/ring.py), owned here so that their lifetime follows their
// readers.
//
// A ring is one memfd of `depth` slots after a one-page header, mapped once by the DataLoader worker that writes it
// (the producer) and once by the main process that reads it (the consumer). Every tensor over ring memory is made
// here and its deleter holds the mapping (a shared_ptr), so a ring is unmapped only when no tensor of it is left,
// whoever dropped the ring. Each process counts its own live tensors per slot; the header's state word of a slot
// says what the other side may do with it:
//   0 free: the producer may take it again once its own tensors of the slot are gone;
//   1 sent: set by the producer when it sends the slot (at most once per use); the consumer owns it from then on;
//   2 viewed: set by the consumer when it makes views; its last view's deleter sets 0.
// Only the process that mapped a ring writes its state words (a forked child's copies of views change nothing).
#pragma once

namespace fastload {
namespace ring {

// Page-locking a ring's device-copy mapping needs the CUDA runtime, so it lives in the CUDA module (ring_cuda.cpp),
// which registers these two ops; the ring (CPU module) calls them through the dispatcher when that module is loaded.
//   _page_lock(int address, int bytes) -> str: "" on success, else the error (already cleared from the device
//     runtime, so no later launch check reports it);
//   _page_unlock(int address) -> ().
inline constexpr char kPageLockOp[] = "fastload::_page_lock";
inline constexpr char kPageUnlockOp[] = "fastload::_page_unlock";

}  // namespace ring
}  // namespace fastload
