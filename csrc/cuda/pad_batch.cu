// fastload::pad_batch CUDA kernels: a thread per group of 4 output pixels of every output row of the batch (kernel.h's
// row_grid: a 64 x 224² batch launches 14,336 blocks of 64 threads, 87.5% of them busy; an 800 x 1333 image 2,400
// blocks of 128, 87%). Each thread reads its image's descriptor, the source bytes through the image's strides (any
// layout, flips included) where the pixels lie inside the image and the pad values elsewhere, and writes the 4
// pixels with vector stores where they are whole and aligned: 16-byte (fp32) or 8-byte (fp16/bf16) stores per
// channel plane or C of them channels_last, C 32-bit words for uint8 NHWC. Every output element is written once, in
// one launch for the whole batch. Bytes moved: the images once + the batch once; the uint8 reads are a quarter of
// the traffic or less, so the vector stores set the pace, as in a copy: expected 70-80% of a same-bytes copy (the
// descriptor load and a division per row are the overhead). Torch-free (kernel.h only): nvcc builds it in
// seconds and the host compiler builds the same source for the CUDA emulation.
#include <stdint.h>

#include "cuda/kernel.h"
#include "cuda/launches.h"
#include "cuda/stores.h"

namespace fastload {
namespace FL_KERNEL_NS {
namespace {

// One output row r of the batch as a thread sees it: image n, row y, and where its 4 pixels from x0 come from.
struct RowAt {
  int64_t n, y;
  ImageDesc img;
  int count;   // pixels of the group inside the batch row (1..4)
  int inside;  // of those, pixels inside the image (0..count)
  const uint8_t* src;

  FL_DEVICE RowAt(const PadBatchParams& p, int64_t r, int64_t x0) {
    n = r / p.out_h;
    y = r - n * p.out_h;
    img = load(p.images + n);
    count = p.out_w - x0 < 4 ? static_cast<int>(p.out_w - x0) : 4;
    const int64_t valid = y < img.h ? img.w - x0 : 0;  // image pixels from x0 on, in this row
    inside = valid <= 0 ? 0 : (valid < count ? static_cast<int>(valid) : count);
    src = img.data + y * img.stride_h + x0 * img.stride_w;  // dereferenced only for inside pixels
  }
};

template <FloatDtype D, int C, bool ChannelsLast>
struct PadNormalizedRows : SinglePhase {
  static constexpr const char* kName = "pad_normalized_rows";
  static FL_DEVICE void phase(int, const Thread& t, Shared&, const PadBatchParams& p) {
    using S = typename FloatTraits<D>::storage;
    const int64_t plane = p.out_h * p.out_w;
    S* const out = static_cast<S*>(p.out);
    for_each_group(t, p.n * p.out_h, p.out_w, [&](int64_t r, int64_t x0, int) {
      const RowAt at(p, r, x0);
      float v[C][4];
#pragma unroll
      for (int j = 0; j < 4; ++j) {
#pragma unroll
        for (int k = 0; k < C; ++k) {
          v[k][j] =
              j < at.inside
                  ? normalize_value(load(at.src + j * at.img.stride_w + channel(p.channel_map, k) * at.img.stride_c),
                                    p.mean[k], p.inv_std[k])
                  : p.pad_value[k];
        }
      }
      S* dst = ChannelsLast ? out + (r * p.out_w + x0) * C : out + at.n * C * plane + at.y * p.out_w + x0;
      store_group<D, C, ChannelsLast>(dst, plane, v, at.count);
    });
  }
};

template <int C>
struct PadBytesRows : SinglePhase {
  static constexpr const char* kName = "pad_bytes_rows";
  static FL_DEVICE void phase(int, const Thread& t, Shared&, const PadBatchParams& p) {
    uint8_t* const out = static_cast<uint8_t*>(p.out);
    for_each_group(t, p.n * p.out_h, p.out_w, [&](int64_t r, int64_t x0, int) {
      const RowAt at(p, r, x0);
      uint8_t bytes[4 * C];
#pragma unroll
      for (int j = 0; j < 4; ++j) {
#pragma unroll
        for (int k = 0; k < C; ++k) {
          bytes[j * C + k] = j < at.inside
                                 ? load(at.src + j * at.img.stride_w + channel(p.channel_map, k) * at.img.stride_c)
                                 : p.pad_byte[k];
        }
      }
      uint8_t* dst = out + (r * p.out_w + x0) * C;
      if (at.count == 4 && reinterpret_cast<uintptr_t>(dst) % 4 == 0) {
#pragma unroll
        for (int q = 0; q < C; ++q) {
          store(reinterpret_cast<uint32_t*>(dst) + q, pack_word(bytes + 4 * q));
        }
      } else {
#pragma unroll
        for (int i = 0; i < 4 * C; ++i)
          if (i < at.count * C) store(dst + i, bytes[i]);
      }
    });
  }
};

}  // namespace

void launch_pad_batch(const PadBatchParams& p, cudaStream_t stream) {
  launch_batch_rows<PadNormalizedRows, PadBytesRows>(p, stream);
}

}  // namespace FL_KERNEL_NS
}  // namespace fastload
