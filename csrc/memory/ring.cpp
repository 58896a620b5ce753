// fastload's shared-memory batch rings: the mappings, every tensor over them, and the slot states (ring.h says how
// they work together). Python (fastload/memory/ring.py) creates the memfd, sends its descriptor and the slot
// coordinates; everything that reads or releases ring memory is here.
#include <ATen/core/dispatch/Dispatcher.h>
#include <ATen/ops/from_blob.h>
#include <c10/util/Exception.h>
#include <torch/library.h>

#include <sys/mman.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <cstring>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "memory/ring.h"

namespace fastload {
namespace ring {
namespace {

constexpr int64_t kHeaderBytes = 4096;
constexpr int64_t kStateWord = 16;  // header word of slot 0's state (fastload/memory/ring.py: _STATES)
constexpr int64_t kMaxDepth = kHeaderBytes / 4 - kStateWord;
constexpr uint32_t kFree = 0, kSent = 1, kViewed = 2;

// Page-locking through the CUDA module's ops (ring.h); without that module loaded the ring stays pageable.
std::string lock_pages(void* address, int64_t bytes) {
  const auto op = c10::Dispatcher::singleton().findSchema({kPageLockOp, ""});
  if (!op.has_value()) return "fastload's CUDA module is not loaded (a CPU-only torch or build)";
  return op->typed<std::string(int64_t, int64_t)>().call(reinterpret_cast<int64_t>(address), bytes);
}

void unlock_pages(void* address) {
  const auto op = c10::Dispatcher::singleton().findSchema({kPageUnlockOp, ""});
  if (op.has_value()) op->typed<void(int64_t)>().call(reinterpret_cast<int64_t>(address));
}

uint8_t* map_shared(int fd, int64_t bytes) {
  void* p = mmap(nullptr, static_cast<size_t>(bytes), PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
  return p == MAP_FAILED ? nullptr : static_cast<uint8_t*>(p);
}

struct Ring {
  Ring(int fd_in, int64_t bytes_in, int64_t slot_bytes_in, int64_t depth_in)
      : bytes(bytes_in),
        slot_bytes(slot_bytes_in),
        depth(depth_in),
        owner(getpid()),
        live(new std::atomic<int64_t>[depth_in]),
        sent(new bool[depth_in]) {
    for (int64_t i = 0; i < depth; ++i) {
      live[i].store(0);
      sent[i] = false;
    }
    fd = dup(fd_in);  // ours: the caller may close its descriptor; the alias mapping is made from this one
    TORCH_CHECK(fd >= 0, "fastload ring: dup of descriptor ", fd_in, " failed: ", std::strerror(errno));
    base = map_shared(fd, bytes);
    if (base == nullptr) {
      const int err = errno;
      close(fd);
      TORCH_CHECK(false, "fastload ring: mmap of ", bytes, " bytes failed: ", std::strerror(err));
    }
  }
  ~Ring() {
    if (alias != nullptr) {
      if (page_locked) unlock_pages(alias);
      munmap(alias, static_cast<size_t>(bytes));
    }
    munmap(base, static_cast<size_t>(bytes));
    close(fd);
  }
  uint32_t* state(int64_t slot) const { return reinterpret_cast<uint32_t*>(base) + kStateWord + slot; }
  uint8_t* slot_start(int64_t slot) const { return base + kHeaderBytes + slot * slot_bytes; }
  bool contains(const uint8_t* p, int64_t n) const { return p >= base + kHeaderBytes && p + n <= base + bytes; }

  int fd = -1;
  uint8_t* base = nullptr;
  const int64_t bytes, slot_bytes, depth;
  const pid_t owner;                             // the process that mapped it: only it writes the state words
  std::unique_ptr<std::atomic<int64_t>[]> live;  // this process's live tensors of each slot
  std::unique_ptr<bool[]> sent;                  // producer: sent since last taken (under `lock`)
  std::mutex lock;                               // take/send, and making the alias
  uint8_t* alias = nullptr;                      // a second mapping of the same pages, for device copies only
  bool page_lock_tried = false, page_locked = false;
  std::string page_lock_error;
};

using RingPtr = std::shared_ptr<Ring>;

// Never destroyed: rings a process still has at exit stay mapped until the process ends, and no static destructor
// runs after (or races) the device runtime's teardown.
std::mutex& registry_lock() {
  static auto* m = new std::mutex;
  return *m;
}
std::map<int64_t, RingPtr>& registry() {
  static auto* r = new std::map<int64_t, RingPtr>;
  return *r;
}
int64_t next_handle = 1;

RingPtr find(int64_t handle, const char* op) {
  const std::lock_guard<std::mutex> guard(registry_lock());
  const auto it = registry().find(handle);
  TORCH_CHECK(it != registry().end(), "fastload::", op, ": no ring ", handle);
  return it->second;
}

// Bytes from t's first element to one past its last (torch strides are never negative).
int64_t extent_bytes(const at::Tensor& t) {
  int64_t last = 0;
  for (int64_t d = 0; d < t.dim(); ++d) last += (t.size(d) - 1) * t.stride(d);
  return (last + 1) * static_cast<int64_t>(t.element_size());
}

int64_t ring_map(int64_t fd, int64_t bytes, int64_t slot_bytes, int64_t depth) {
  TORCH_CHECK(fd >= 0 && depth >= 1 && depth <= kMaxDepth && slot_bytes > 0 && slot_bytes % 4096 == 0 &&
                  bytes == kHeaderBytes + depth * slot_bytes,
              "fastload::_ring_map: a ring is a ", kHeaderBytes, "-byte header and 1..", kMaxDepth,
              " page-aligned slots, got fd ", fd, ", ", bytes, " bytes, ", depth, " slots of ", slot_bytes);
  auto ring = std::make_shared<Ring>(static_cast<int>(fd), bytes, slot_bytes, depth);
  const std::lock_guard<std::mutex> guard(registry_lock());
  registry()[next_handle] = std::move(ring);
  return next_handle++;
}

// The process stops using the ring; its memory stays mapped while any tensor of it lives.
void ring_unregister(int64_t handle) {
  const std::lock_guard<std::mutex> guard(registry_lock());
  TORCH_CHECK(registry().erase(handle) == 1, "fastload::_ring_unregister: no ring ", handle);
}

at::Tensor ring_header(int64_t handle) {
  RingPtr ring = find(handle, "_ring_header");
  return at::from_blob(ring->base, {kHeaderBytes / 4}, [ring](void*) {}, at::TensorOptions().dtype(at::kInt));
}

// Producer: a slot no tensor of this process uses and the consumer has handed back, as an `nbytes` uint8 tensor
// whose storage holds the slot until it dies; [] when every slot is busy.
std::vector<at::Tensor> ring_take(int64_t handle, int64_t nbytes) {
  RingPtr ring = find(handle, "_ring_take");
  TORCH_CHECK(nbytes >= 0 && nbytes <= ring->slot_bytes, "fastload::_ring_take: ", nbytes,
              " bytes do not fit a slot of ", ring->slot_bytes);
  const std::lock_guard<std::mutex> guard(ring->lock);
  for (int64_t i = 0; i < ring->depth; ++i) {
    if (ring->live[i].load(std::memory_order_acquire) != 0 ||
        __atomic_load_n(ring->state(i), __ATOMIC_ACQUIRE) != kFree)
      continue;
    ring->live[i].store(1, std::memory_order_relaxed);
    ring->sent[i] = false;
    auto release = [ring, i](void*) { ring->live[i].fetch_sub(1, std::memory_order_release); };
    return {at::from_blob(ring->slot_start(i), {nbytes}, release, at::TensorOptions().dtype(at::kByte))};
  }
  return {};
}

// Producer: slots in use (a live tensor here, or not yet handed back by the consumer).
int64_t ring_busy(int64_t handle) {
  RingPtr ring = find(handle, "_ring_busy");
  int64_t busy = 0;
  for (int64_t i = 0; i < ring->depth; ++i)
    busy += ring->live[i].load(std::memory_order_acquire) != 0 || __atomic_load_n(ring->state(i), __ATOMIC_ACQUIRE);
  return busy;
}

// Producer: [slot, offset, bytes] of t's memory when it lies in one taken slot not sent since it was taken, which
// is then marked sent (the consumer owns it until its views die); [-1] when its slot went out already (a cached
// batch sent again); [] when t is not ring memory. In both latter cases the caller sends t the ordinary way.
std::vector<int64_t> ring_send(int64_t handle, const at::Tensor& t) {
  RingPtr ring = find(handle, "_ring_send");
  if (t.numel() == 0 || !t.device().is_cpu()) return {};
  const auto* start = static_cast<const uint8_t*>(t.data_ptr());
  const int64_t extent = extent_bytes(t);
  if (!ring->contains(start, extent)) return {};
  const int64_t slot = (start - ring->base - kHeaderBytes) / ring->slot_bytes;
  const int64_t offset = start - ring->slot_start(slot);
  if (offset + extent > ring->slot_bytes) return {};
  const std::lock_guard<std::mutex> guard(ring->lock);
  if (ring->live[slot].load(std::memory_order_acquire) == 0 || ring->sent[slot]) return {-1};
  ring->sent[slot] = true;
  __atomic_store_n(ring->state(slot), kSent, __ATOMIC_RELEASE);
  return {slot, offset, extent};
}

// Consumer: `nbytes` of a slot as a uint8 tensor; the slot goes back to its producer when the last view dies.
at::Tensor ring_view(int64_t handle, int64_t slot, int64_t offset, int64_t nbytes) {
  RingPtr ring = find(handle, "_ring_view");
  TORCH_CHECK(slot >= 0 && slot < ring->depth && offset >= 0 && nbytes >= 0 && offset <= ring->slot_bytes - nbytes,
              "fastload::_ring_view: slot ", slot, " (offset ", offset, ", ", nbytes, " bytes) outside ring ", handle,
              " (", ring->depth, " slots of ", ring->slot_bytes, " bytes)");
  ring->live[slot].fetch_add(1, std::memory_order_acq_rel);
  __atomic_store_n(ring->state(slot), kViewed, __ATOMIC_RELEASE);
  // A process forked while the view is alive (a DataLoader worker) inherits a copy of it: only the process that
  // mapped the ring hands the slot back, or the child's copy dying would free the slot under the parent's view.
  auto release = [ring, slot](void*) {
    if (ring->live[slot].fetch_sub(1, std::memory_order_acq_rel) == 1 && getpid() == ring->owner)
      __atomic_store_n(ring->state(slot), kFree, __ATOMIC_RELEASE);
  };
  return at::from_blob(ring->slot_start(slot) + offset, {nbytes}, release, at::TensorOptions().dtype(at::kByte));
}

// Consumer: t (a view of a registered ring) seen through the ring's second mapping, page-locked on first use when
// `page_lock`; [] when t is not ring memory, [t] itself when page-locking failed (ring_page_lock_status says why). The
// alias holds t's storage, so the slot stays held while the alias lives: a device copy from it is safe as long as its
// reader keeps the alias until the copy's event. Users' views stay pageable, so their own non_blocking copies are
// staged by the driver and never read the slot after it is handed back.
std::vector<at::Tensor> ring_alias(const at::Tensor& t, bool page_lock) {
  if (t.numel() == 0 || !t.device().is_cpu()) return {};
  const auto* start = static_cast<const uint8_t*>(t.data_ptr());
  const int64_t extent = extent_bytes(t);
  RingPtr ring;
  {
    const std::lock_guard<std::mutex> guard(registry_lock());
    for (const auto& entry : registry())
      if (entry.second->contains(start, extent)) ring = entry.second;
  }
  if (!ring) return {};
  const std::lock_guard<std::mutex> guard(ring->lock);
  if (ring->alias == nullptr) {
    ring->alias = map_shared(ring->fd, ring->bytes);
    if (ring->alias == nullptr) {
      ring->page_lock_tried = true;
      ring->page_lock_error = std::string("mmap of the device-copy mapping failed: ") + std::strerror(errno);
      return {t};
    }
  }
  if (page_lock && !ring->page_lock_tried) {
    ring->page_lock_tried = true;
    ring->page_lock_error = lock_pages(ring->alias, ring->bytes);
    ring->page_locked = ring->page_lock_error.empty();
  }
  if (page_lock && !ring->page_locked) return {t};
  void* alias = ring->alias + (start - ring->base);
  c10::Storage keep = t.storage();
  return {at::from_blob(alias, t.sizes(), t.strides(), [ring, keep](void*) {}, t.options())};
}

// "" (page-locking not tried), "page-locked", or why page-locking failed.
std::string ring_page_lock_status(int64_t handle) {
  RingPtr ring = find(handle, "_ring_page_lock_status");
  const std::lock_guard<std::mutex> guard(ring->lock);
  if (!ring->page_lock_tried) return "";
  return ring->page_locked ? "page-locked" : ring->page_lock_error;
}

}  // namespace

TORCH_LIBRARY_FRAGMENT(fastload, m) {
  m.def("_ring_map(int fd, int bytes, int slot_bytes, int depth) -> int", &ring_map);
  m.def("_ring_unregister(int ring) -> ()", &ring_unregister);
  m.def("_ring_header(int ring) -> Tensor", &ring_header);
  m.def("_ring_take(int ring, int nbytes) -> Tensor[]", &ring_take);
  m.def("_ring_busy(int ring) -> int", &ring_busy);
  m.def("_ring_send(int ring, Tensor t) -> int[]", &ring_send);
  m.def("_ring_view(int ring, int slot, int offset, int nbytes) -> Tensor", &ring_view);
  m.def("_ring_alias(Tensor t, bool page_lock) -> Tensor[]", &ring_alias);
  m.def("_ring_page_lock_status(int ring) -> str", &ring_page_lock_status);
}

}  // namespace ring
}  // namespace fastload
