// Blocking I/O for the mirror's own threads (region log, resync): submit one
// request to a device and wait for it. Never used on a submitter's path.
#pragma once

#include <cstdint>
#include <cstdlib>
#include <memory>

#include "udm/block_device.h"

namespace udm::mirror {

// A zeroed buffer aligned for O_DIRECT (4 KiB), owned by the caller.
struct AlignedFree {
  void operator()(uint8_t* p) const { std::free(p); }
};
using AlignedBuffer = std::unique_ptr<uint8_t, AlignedFree>;
// `bytes` is rounded up to a multiple of 4096.
AlignedBuffer MakeAlignedBuffer(uint64_t bytes);

// Submits `op` (read, write or flush) of `bytes` at `sector` of `dev` with
// `flags` and blocks until it completes. Returns 0 or -errno.
int SyncIo(BlockDevice& dev, Op op, uint64_t sector, uint8_t* buf, uint64_t bytes,
           uint32_t flags = 0);

}  // namespace udm::mirror
