// The CUDA emulation's runtime (see cuda/emulation.h): buffer registry, access checks and launch log.
#define FL_EMULATION 1
#include "cuda/emulation.h"

#include <mutex>
#include <sstream>
#include <stdexcept>

namespace fastload {
namespace emulation {
namespace {

thread_local std::vector<Buffer> current_buffers;
thread_local KernelScope* current_kernel = nullptr;
std::mutex log_lock;
std::vector<std::string> launch_log;

std::string where(const KernelScope* k, const char* name, int64_t bx, int64_t by, int64_t t) {
  std::ostringstream s;
  s << "fastload CUDA emulation: kernel " << (k ? name : "(none)") << ", block (" << bx << ", " << by << "), thread "
    << t;
  return s.str();
}

}  // namespace

BufferScope::BufferScope(std::vector<Buffer> buffers) : previous_(std::move(current_buffers)) {
  current_buffers = std::move(buffers);
}

BufferScope::~BufferScope() { current_buffers = std::move(previous_); }

Buffer strided_buffer(std::string name, const void* origin, const int64_t* sizes, const int64_t* strides, int dims,
                      int64_t element_bytes, bool writable) {
  const auto base = reinterpret_cast<uintptr_t>(origin);
  int64_t low = 0, high = 0;
  bool empty = false;
  for (int d = 0; d < dims; ++d) {
    if (sizes[d] == 0) empty = true;
    const int64_t reach = (sizes[d] - 1) * strides[d];
    (reach < 0 ? low : high) += reach;
  }
  if (empty) return Buffer{std::move(name), base, base, writable};
  return Buffer{std::move(name), base + low, base + high + element_bytes, writable};
}

KernelScope::KernelScope(const char* name, int64_t grid_x, int64_t grid_y, int64_t block)
    : name_(name), previous_(current_kernel) {
  current_kernel = this;
  std::ostringstream s;
  s << name << " " << grid_x << "x" << grid_y << " blocks of " << block;
  const std::lock_guard<std::mutex> guard(log_lock);
  if (launch_log.size() < 100000) launch_log.push_back(s.str());
}

KernelScope::~KernelScope() { current_kernel = previous_; }

void check_access(const void* p, size_t bytes, size_t align, bool write) {
  const KernelScope* k = current_kernel;
  const std::string who = k ? where(k, k->name_, k->block_x_, k->block_y_, k->thread_) : where(nullptr, "", 0, 0, 0);
  const auto a = reinterpret_cast<uintptr_t>(p);
  for (const Buffer& b : current_buffers) {
    if (a < b.begin || a + bytes > b.end) continue;
    if (a % align != 0) {
      throw std::invalid_argument(who + ": misaligned " + std::to_string(bytes) + "-byte access (needs " +
                                  std::to_string(align) + "-byte alignment) at offset " + std::to_string(a - b.begin) +
                                  " of " + b.name);
    }
    if (write && !b.writable) {
      throw std::out_of_range(who + ": write to read-only " + b.name + " at offset " + std::to_string(a - b.begin));
    }
    return;
  }
  std::ostringstream s;
  s << who << ": " << (write ? "store" : "load") << " of " << bytes << " bytes outside every buffer of the launch";
  for (const Buffer& b : current_buffers) {
    s << "; " << b.name << " offset " << static_cast<int64_t>(a - b.begin) << " of " << (b.end - b.begin);
  }
  throw std::out_of_range(s.str());
}

std::vector<std::string> take_launch_log() {
  const std::lock_guard<std::mutex> guard(log_lock);
  std::vector<std::string> out;
  out.swap(launch_log);
  return out;
}

}  // namespace emulation
}  // namespace fastload
