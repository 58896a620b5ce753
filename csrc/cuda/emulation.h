// The host side of the CUDA emulation (FL_EMULATION): the CUDA vector types the kernels use, the buffers a launch may
// touch, the per-access bounds and alignment check, and the launch log. Torch-free; implemented in
// csrc/emulation/runtime.cpp.
#pragma once
#include <stddef.h>
#include <stdint.h>

#include <string>
#include <vector>

namespace fastload {
namespace emulation {

using cudaStream_t = void*;

// Aligned as CUDA aligns them, so the emulation's alignment check is CUDA's.
struct alignas(16) float4 {
  float x, y, z, w;
};
struct alignas(8) uint2 {
  unsigned x, y;
};
inline float4 make_float4(float x, float y, float z, float w) { return {x, y, z, w}; }
inline uint2 make_uint2(unsigned x, unsigned y) { return {x, y}; }

// One range of memory a launch may touch: [begin, end), and whether kernels may write it.
struct Buffer {
  std::string name;
  uintptr_t begin, end;
  bool writable;
};

// The buffers of the launches made while it lives (one op call), on this thread.
class BufferScope {
 public:
  explicit BufferScope(std::vector<Buffer> buffers);
  ~BufferScope();
  BufferScope(const BufferScope&) = delete;
  BufferScope& operator=(const BufferScope&) = delete;

 private:
  std::vector<Buffer> previous_;
};

// [first, last + 1) bytes of a strided block: `sizes` and `strides` (bytes, any sign) over `dims` dims from `origin`.
Buffer strided_buffer(std::string name, const void* origin, const int64_t* sizes, const int64_t* strides, int dims,
                      int64_t element_bytes, bool writable);

// The kernel running on this thread, and the thread of it being emulated (for messages); logs the launch.
class KernelScope {
 public:
  KernelScope(const char* name, int64_t grid_x, int64_t grid_y, int64_t block);
  ~KernelScope();
  void at(int64_t block_x, int64_t block_y, int64_t thread) {
    block_x_ = block_x, block_y_ = block_y, thread_ = thread;
  }

 private:
  friend void check_access(const void*, size_t, size_t, bool);
  const char* name_;
  int64_t block_x_ = 0, block_y_ = 0, thread_ = 0;
  KernelScope* previous_;
};

// Throws std::out_of_range naming the kernel, the thread and the offset when [p, p + bytes) is not inside one
// buffer of the launch (or is a write to a read-only one), and std::invalid_argument when p is not a multiple of
// `align` (CUDA requires every access to be aligned to its type: 16 bytes for a float4).
void check_access(const void* p, size_t bytes, size_t align, bool write);

// The launches since the log was last taken ("name grid_x x grid_y"), oldest first; taking it clears it.
std::vector<std::string> take_launch_log();

}  // namespace emulation
}  // namespace fastload
