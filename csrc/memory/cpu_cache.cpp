// fastload's CPU output allocator (CPU module only): a small caching allocator in the spirit of PyTorch's pinned-host
// one. Blocks of 256 KiB and more are mapped once (2 MiB aligned, huge pages advised where the kernel allows), and a
// block freed by its tensor waits in the cache for the next output of a fitting size (up to twice its size) instead of
// going back to the OS. The free blocks are bounded (FASTLOAD_CPU_CACHE_MB, default min(1 GiB, RAM / 8)); past the
// bound the least recently freed go back first. Thread-safe; a forked child (a DataLoader worker) starts with an empty
// cache.
#include "memory/output.h"

#include <c10/core/Allocator.h>
#include <c10/core/CPUAllocator.h>
#include <c10/util/Exception.h>
#include <pthread.h>
#include <sys/mman.h>
#include <unistd.h>

#include <torch/library.h>

#include <algorithm>
#include <cerrno>
#include <cstdlib>
#include <map>
#include <mutex>
#include <new>
#include <optional>
#include <vector>

namespace fastload {
namespace {

constexpr size_t kHugePage = size_t{2} << 20;
constexpr size_t kMinCached = size_t{256} << 10;  // below this malloc's heap reuses memory without page faults

// Cached sizes: powers of two up to 2 MiB, then multiples of 2 MiB.
size_t block_size(size_t n) {
  if (n > kHugePage) return (n + kHugePage - 1) / kHugePage * kHugePage;
  size_t s = kMinCached;
  while (s < n) s <<= 1;
  return s;
}

int64_t physical_bytes() {
  const long pages = sysconf(_SC_PHYS_PAGES), page = sysconf(_SC_PAGESIZE);
  return pages > 0 && page > 0 ? static_cast<int64_t>(pages) * page : int64_t{8} << 30;
}

int64_t default_limit() {
  if (const char* mb = std::getenv("FASTLOAD_CPU_CACHE_MB")) {
    char* end = nullptr;
    errno = 0;
    const long long v = std::strtoll(mb, &end, 10);  // LLONG_MAX (ERANGE) past the range: clamped below
    TORCH_CHECK(end != mb && *end == '\0' && v >= 0, "FASTLOAD_CPU_CACHE_MB must be a whole number of MiB >= 0, got '",
                mb, "'");
    const int64_t ram_mb = physical_bytes() >> 20;
    if (v > ram_mb) {
      TORCH_WARN("FASTLOAD_CPU_CACHE_MB=", mb, " is more than this machine's memory (", ram_mb,
                 " MiB); the CPU output cache is bounded by ", ram_mb, " MiB");
      return ram_mb << 20;
    }
    return static_cast<int64_t>(v) << 20;
  }
  return std::min<int64_t>(int64_t{1} << 30, physical_bytes() / 8);
}

struct Block {
  void* ptr;
  size_t size;
};

class CpuCache final : public c10::Allocator {
 public:
  static CpuCache& get() {
    // Never destroyed: tensors may outlive static destruction at exit.
    static CpuCache* cache = new CpuCache();
    return *cache;
  }

  c10::DataPtr allocate(size_t n) override {
    Block block{nullptr, block_size(n)};
    if (n < kMinCached || !take(block)) return c10::GetDefaultCPUAllocator()->allocate(n);
    if (block.ptr == nullptr) block.ptr = map(block.size);
    return {block.ptr, new Block(block), &CpuCache::release, c10::Device(c10::kCPU)};
  }

  void copy_data(void* dest, const void* src, std::size_t count) const override { default_copy_data(dest, src, count); }

  std::vector<int64_t> stats() {
    const std::lock_guard<std::mutex> guard(lock_);
    return {allocated_, cached_, limit_, hits_, misses_, returned_};
  }

  // Sets the bound (when given) and returns free blocks to the OS until at most `keep` bytes (and the bound) stay
  // cached.
  void trim(std::optional<int64_t> limit, int64_t keep) {
    std::vector<Block> out;
    {
      const std::lock_guard<std::mutex> guard(lock_);
      limit_ = limit.value_or(limit_);
      evict_until(std::min(limit_, keep), out);
    }
    unmap(out);
  }

 private:
  CpuCache() : limit_(default_limit()) { pthread_atfork(nullptr, nullptr, &CpuCache::forked_child); }

  // False when caching is off. Else `b` becomes the smallest cached block of at least b.size bytes and at most
  // twice that, or stays {nullptr, b.size} on a miss (to be mapped). The cache holds a few dozen blocks at most, so
  // a scan is enough.
  bool take(Block& b) {
    const std::lock_guard<std::mutex> guard(lock_);
    if (limit_ == 0) return false;
    auto best = free_.end();
    for (auto it = free_.begin(); it != free_.end(); ++it) {
      const size_t size = it->second.size;
      if (size >= b.size && size <= 2 * b.size && (best == free_.end() || size < best->second.size)) best = it;
    }
    if (best == free_.end()) {
      ++misses_;
    } else {
      ++hits_;
      b = best->second;
      free_.erase(best);
      cached_ -= static_cast<int64_t>(b.size);
    }
    allocated_ += static_cast<int64_t>(b.size);
    return true;
  }

  static void* map(size_t size) {
    // Over-map by 2 MiB and trim, so large blocks start on a huge-page boundary.
    const size_t extra = size >= kHugePage ? kHugePage : 0;
    void* raw = mmap(nullptr, size + extra, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (raw == MAP_FAILED) {
      const std::lock_guard<std::mutex> guard(get().lock_);
      get().allocated_ -= static_cast<int64_t>(size);
      TORCH_CHECK(false, "fastload: out of memory allocating ", size, " bytes for an output");
    }
    auto* begin = static_cast<char*>(raw);
    if (extra) {
      const uintptr_t addr = reinterpret_cast<uintptr_t>(begin);
      const size_t head = (kHugePage - addr % kHugePage) % kHugePage;
      if (head) munmap(begin, head);
      if (extra - head) munmap(begin + head + size, extra - head);
      begin += head;
#ifdef MADV_HUGEPAGE
      madvise(begin, size, MADV_HUGEPAGE);  // advice only: without transparent huge pages it changes nothing
#endif
    }
    return begin;
  }

  static void unmap(const std::vector<Block>& blocks) {
    for (const Block& b : blocks) munmap(b.ptr, b.size);
  }

  // Moves the least recently freed blocks out of the cache (into `out`, to unmap) until it holds at most `keep` bytes.
  void evict_until(int64_t keep, std::vector<Block>& out) {
    while (cached_ > keep && !free_.empty()) {
      const Block b = free_.begin()->second;
      free_.erase(free_.begin());
      cached_ -= static_cast<int64_t>(b.size);
      ++returned_;
      out.push_back(b);
    }
  }

  static void release(void* context) {
    const Block* block = static_cast<Block*>(context);
    get().put(*block);
    delete block;
  }

  void put(const Block& b) {
    std::vector<Block> out;
    {
      const std::lock_guard<std::mutex> guard(lock_);
      allocated_ -= static_cast<int64_t>(b.size);
      if (static_cast<int64_t>(b.size) > limit_) {
        ++returned_;
        out.push_back(b);
      } else {
        evict_until(limit_ - static_cast<int64_t>(b.size), out);
        free_.emplace(++clock_, b);
        cached_ += static_cast<int64_t>(b.size);
      }
    }
    unmap(out);  // outside the lock: munmap of a large block takes a while
  }

  // The child of fork() has one thread and copies of the parent's free blocks, which nothing there references: it
  // starts with an empty cache (and a fresh lock, which another parent thread may have held at the fork).
  static void forked_child() {
    CpuCache& c = get();
    new (&c.lock_) std::mutex();
    for (const auto& entry : c.free_) munmap(entry.second.ptr, entry.second.size);
    c.free_.clear();
    c.cached_ = c.hits_ = c.misses_ = c.returned_ = 0;
  }

  std::mutex lock_;
  std::map<uint64_t, Block> free_;  // the cached blocks, by when they were freed (oldest first: evicted first)
  uint64_t clock_ = 0;
  int64_t limit_, allocated_ = 0, cached_ = 0, hits_ = 0, misses_ = 0, returned_ = 0;
};

std::vector<int64_t> cpu_cache_stats() { return CpuCache::get().stats(); }

void cpu_cache_empty() { CpuCache::get().trim(std::nullopt, 0); }

void cpu_cache_set_limit(int64_t bytes) {
  TORCH_CHECK(bytes >= 0, "fastload: the CPU cache limit must be >= 0 bytes, got ", bytes);
  CpuCache::get().trim(bytes, bytes);
}

// new_output's CPU tensors come from the cache from the moment this module is loaded (the cache itself is made on
// first use).
const bool installed = (set_cpu_output_allocator([]() -> c10::Allocator* { return &CpuCache::get(); }), true);

}  // namespace

// Python reaches these as torch.ops.fastload._cpu_cache_* (fastload/memory/cpu_cache.py wraps them).
TORCH_LIBRARY_FRAGMENT(fastload, m) {
  m.def("_cpu_cache_stats() -> int[]", &cpu_cache_stats);
  m.def("_cpu_cache_empty() -> ()", &cpu_cache_empty);
  m.def("_cpu_cache_set_limit(int bytes) -> ()", &cpu_cache_set_limit);
}

}  // namespace fastload
