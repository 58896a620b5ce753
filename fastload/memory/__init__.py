"""Where batches live: `PackedImages` (a batch of variable-size images in one buffer), the CPU output cache
(`cpu_cache_stats`, `empty_cache`, `set_cpu_cache_limit`) and, inside, `ring` (the DataLoader workers'
shared-memory rings: a slot is reused only when nothing can read it)."""

from fastload.memory.cpu_cache import cpu_cache_stats, empty_cache, set_cpu_cache_limit
from fastload.memory.packed import PackedImages

__all__ = ["PackedImages", "cpu_cache_stats", "empty_cache", "set_cpu_cache_limit"]
