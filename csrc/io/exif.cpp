// OpenCV's EXIF reading (modules/imgcodecs/src/exif.cpp, as cv2 5.1 behaves; checked by a differential fuzz in
// tests/test_exif.py), restated: the byte order is Intel only for "II" (anything else reads big-endian); the tag mark
// 0x2A must follow; IFD0's entries are read in order, and an entry whose fields OpenCV reads (string lengths and
// offsets, rational offsets) points past the blob ends the parse: entries after it are never seen. The first
// orientation entry wins. Offsets of rationals are 32-bit and wrap as OpenCV's do.
#include "io/exif.h"

#include <ATen/ATen.h>
#include <torch/library.h>

#include <cstring>

namespace fastload {
namespace {

class Blob {
 public:
  Blob(const uint8_t* d, size_t n) : d_(d), n_(n), little_((n == 1 || (n > 1 && d[0] == d[1])) && d[0] == 'I') {}

  // false (OpenCV throws) when the value does not lie inside the blob.
  bool u16(size_t at, uint32_t* v) const {
    if (at + 1 >= n_) return false;
    *v = little_ ? d_[at] | (uint32_t{d_[at + 1]} << 8) : (uint32_t{d_[at]} << 8) | d_[at + 1];
    return true;
  }
  bool u32(size_t at, uint32_t* v) const {
    uint32_t lo, hi;
    if (at + 3 >= n_ || !u16(at, &lo) || !u16(at + 2, &hi)) return false;
    *v = little_ ? lo | (hi << 16) : (lo << 16) | hi;
    return true;
  }
  bool rational(size_t at) const {
    uint32_t v;
    return u32(at, &v) && u32(at + 4, &v);
  }
  // `count` rationals from the 32-bit offset in the entry's value field, the offset stepping in 32 bits.
  bool rationals(size_t entry, int count) const {
    uint32_t at;
    if (!u32(entry + 8, &at)) return false;
    for (int i = 0; i < count; ++i, at += 8)
      if (!rational(at)) return false;
    return true;
  }
  bool string(size_t entry) const {
    uint32_t length, at = 8;
    if (!u32(entry + 4, &length)) return false;
    if (length > 4 && !u32(entry + 8, &at)) return false;
    return at <= n_ && size_t{at} + length <= n_;
  }
  size_t size() const { return n_; }

 private:
  const uint8_t* d_;
  size_t n_;
  bool little_;
};

}  // namespace

int tiff_orientation(const uint8_t* data, size_t size) {
  if (size == 0) return kNoOrientation;
  const Blob b(data, size);
  uint32_t mark, ifd, entries;
  if (!b.u16(2, &mark) || mark != 0x2A || !b.u32(4, &ifd) || !b.u16(ifd, &entries)) return kNoOrientation;
  size_t at = size_t{ifd} + 2;
  for (uint32_t i = 0; i < entries; ++i, at += 12) {
    uint32_t tag, value;
    if (!b.u16(at, &tag)) return kNoOrientation;
    bool ok = true;
    switch (tag) {
      case 0x0112:  // orientation
        return b.u16(at + 8, &value) ? static_cast<int>(value) : kNoOrientation;
      case 0x010E:
      case 0x010F:
      case 0x0110:
      case 0x0131:
      case 0x0132:
      case 0x8298:  // strings
        ok = b.string(at);
        break;
      case 0x011A:
      case 0x011B:  // x, y resolution
        ok = b.rationals(at, 1);
        break;
      case 0x0128:
      case 0x0213:  // resolution unit, YCbCr positioning
        ok = b.u16(at + 8, &value);
        break;
      case 0x013E:  // white point
        ok = b.rationals(at, 2);
        break;
      case 0x013F:
      case 0x0214:  // primary chromaticities, reference black/white
        ok = b.rationals(at, 6);
        break;
      case 0x0211:  // YCbCr coefficients
        ok = b.rationals(at, 3);
        break;
      default:  // other tags: only the tag number is read
        break;
    }
    if (!ok) return kNoOrientation;
  }
  return kNoOrientation;
}

int jpeg_orientation(const Marker* app1, size_t count) {
  static constexpr uint8_t kIdentifier[6] = {'E', 'x', 'i', 'f', 0, 0};
  for (size_t i = 0; i < count; ++i) {
    if (app1[i].size < sizeof(kIdentifier) || std::memcmp(app1[i].data, kIdentifier, sizeof(kIdentifier)) != 0)
      continue;
    const int o = tiff_orientation(app1[i].data + sizeof(kIdentifier), app1[i].size - sizeof(kIdentifier));
    if (o != kNoOrientation) return o >= 1 && o <= 8 ? o : 1;
  }
  return 1;
}

namespace {

// The orientation entry of a TIFF-structured blob (a 1-D uint8 CPU tensor), as tiff_orientation; -1 for none. Used
// for the EXIF chunks of PNG and WebP files, whose headers fastload reads in Python.
int64_t tiff_orientation_op(const at::Tensor& blob) {
  TORCH_CHECK_VALUE(blob.device().is_cpu() && blob.scalar_type() == at::kByte && blob.dim() == 1,
                    "fastload::_tiff_orientation: blob must be a 1-D uint8 CPU tensor, got ", blob.scalar_type(),
                    " of shape ", blob.sizes());
  const at::Tensor b = blob.contiguous();
  return tiff_orientation(b.data_ptr<uint8_t>(), static_cast<size_t>(b.numel()));
}

}  // namespace

TORCH_LIBRARY_FRAGMENT(fastload, m) {
  m.def("_tiff_orientation(Tensor blob) -> int");
  m.impl("_tiff_orientation", c10::DispatchKey::CPU, &tiff_orientation_op);
}

}  // namespace fastload
