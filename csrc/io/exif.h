// EXIF orientation read as OpenCV 5's imdecode reads it, so that fastload's decoder, image_size and the collates
// rotate exactly the files cv2.imdecode rotates (the tests fuzz APP1 and eXIf bytes against cv2).
#pragma once
#include <cstddef>
#include <cstdint>

namespace fastload {

inline constexpr int kNoOrientation = -1;

// The orientation entry OpenCV's ExifReader finds in a TIFF-structured blob (an APP1 payload after "Exif\0\0", a
// PNG eXIf chunk, a WebP EXIF chunk): the 16-bit value of IFD0's first 0x0112 entry (any value: only 1..8 rotate),
// or kNoOrientation when the blob has none before the first entry OpenCV fails to read (it stops there).
int tiff_orientation(const uint8_t* data, size_t size);

// The orientation (1..8) OpenCV applies for a JPEG whose APP1 markers are given one after another: the first
// "Exif\0\0" APP1 with an orientation entry decides; 1 when none has one or its value is outside 1..8.
struct Marker {
  const uint8_t* data;
  size_t size;
};
int jpeg_orientation(const Marker* app1, size_t count);

}  // namespace fastload
