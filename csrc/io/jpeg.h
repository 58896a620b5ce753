// Shared by fastload's JPEG header reader (jpeg_header.cpp) and decoder (jpeg_decode.cpp): a libjpeg-turbo
// decompressor whose errors longjmp back to the caller, and what fastload reads from a file's header.
//
// libjpeg reports errors by longjmp: the functions that call it (marked "setjmp frame") hold no object with a
// destructor, take every buffer from their caller, and return a status; ~Decoder runs jpeg_destroy_decompress, which
// frees what libjpeg allocated, on every path.
#pragma once
#include <csetjmp>
#include <cstddef>
#include <cstdint>
#include <cstdio>  // jpeglib.h needs FILE

#include <ATen/core/Tensor.h>

#include <jpeglib.h>  // libjpeg-turbo: jpeg_crop_scanline and jpeg_skip_scanlines are its own

namespace fastload {

// OpenCV's CV_IO_MAX_IMAGE_PIXELS default: larger images are refused from their header, before any allocation.
inline constexpr int64_t kMaxPixels = int64_t{1} << 30;

// What a decode refuses (Python's strict=False, "complete", True). The verdict on a file never depends on the box.
enum class Strict : int64_t {
  kNone = 0,      // only what libjpeg cannot read; it recovers the rest (grey where data is missing)
  kComplete = 1,  // also a file that ends before its end-of-image marker (truncated), as cv2.imdecode refuses it
  kFile = 2,      // also any damage libjpeg warns about anywhere in the file: every decode reads the whole file
};

struct ErrorState {
  jpeg_error_mgr mgr;  // first: libjpeg hands back a pointer to it
  jmp_buf jump;
  Strict strict;
  int warnings;
  char message[JMSG_LENGTH_MAX];
};

struct Decoder {
  jpeg_decompress_struct cinfo;
  ErrorState err;
  bool created = false;
  Decoder() = default;
  Decoder(const Decoder&) = delete;
  Decoder& operator=(const Decoder&) = delete;
  ~Decoder() {
    if (created) jpeg_destroy_decompress(&cinfo);
  }
};

// What a file's header says, at 1/reduce scale (`height`, `width` as decoded: EXIF orientation applied).
struct Header {
  int64_t height, width;                // oriented, at 1/reduce scale
  int64_t stored_height, stored_width;  // as stored, at 1/reduce scale
  int orientation;                      // 1..8, as OpenCV applies it
  int components, precision;            // precision: bits a sample (the decoder reads 8 only)
  bool progressive, lossless;
};

// Creates the decompressor, reads the header (APP1 markers kept, for EXIF) and sets the output scale (1/reduce; 1 for
// a lossless file, which has no DCT to scale). Fails (a ValueError naming `op`) for a file libjpeg cannot read and
// one claiming more than kMaxPixels at full scale. `strict` says which of libjpeg's warnings are errors from here on.
Header open_jpeg(Decoder* d, const uint8_t* data, size_t size, int64_t reduce, Strict strict, const char* op);

// Whether the file, its header read (libjpeg's source positioned after the first scan header), ends with its
// end-of-image marker (trailing bytes after it allowed): a truncated file does not.
bool has_end_marker(const jpeg_decompress_struct& cinfo);

// A ValueError: `what`, then libjpeg's own message (the Python caller prefixes the file's name).
[[noreturn]] void fail_jpeg(const Decoder& d, const char* what);

// The bytes of `data`, a non-empty contiguous 1-D uint8 CPU tensor (a ValueError naming `op` otherwise).
const uint8_t* jpeg_bytes(const at::Tensor& data, const char* op);

// "libjpeg-turbo <version>" of the library linked in (from its own header).
const char* libjpeg_turbo_version();

}  // namespace fastload
