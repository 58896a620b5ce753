// Channel bookkeeping shared by every op: at most 3 channels, and a channel map (output channel k reads input
// channel map[k]) that the kernels' fast paths recognise as keeping or swapping BGR <-> RGB.
#pragma once
#include <stdint.h>

#include "math/macros.h"

namespace fastload {

constexpr int kMaxChannels = 3;

enum class ChannelOrder : int { kKeep, kSwap, kOther };

// kKeep for the identity (and any single channel), kSwap for (2, 1, 0), kOther for the rest.
FL_HOST_DEVICE FL_INLINE ChannelOrder classify_channels(const int* map, int64_t c) {
  if (c == 1 || (map[0] == 0 && map[1] == 1 && map[2] == 2)) return ChannelOrder::kKeep;
  if (c == 3 && map[0] == 2 && map[1] == 1 && map[2] == 0) return ChannelOrder::kSwap;
  return ChannelOrder::kOther;
}

}  // namespace fastload
