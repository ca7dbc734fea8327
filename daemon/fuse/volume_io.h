// The I/O of a volume file: FUSE read, write, fsync and fallocate requests
// turned into bios on the volume's MappedDevice, answered from completions.
// Nothing here blocks: requests that must wait for a range lock are queued.
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>

#include "fuse/fs_state.h"

namespace udm::daemon::volfs {

// Each Start function answers `req` exactly once, from the bios' completion
// (possibly before it returns).

// Replies with the bytes read, short at the end of the volume (none at or
// after it), or the engine's error.
void StartRead(const std::shared_ptr<Session>& session, const std::shared_ptr<VolumeState>& volume,
               fuse_req_t req, uint64_t offset, size_t size);

// Writes `data` (valid only during the call); `owned`, if set, is the
// page-aligned buffer that holds it at offset 0, taken over instead of
// copying when the write covers whole sectors. Partial sectors
// are read, merged and written back under the volume's range lock. Replies
// with the count written (short when the write runs past the end), ENOSPC
// when it starts at or after the end, EROFS on a read-only volume.
void StartWrite(const std::shared_ptr<Session>& session, const std::shared_ptr<VolumeState>& volume,
                fuse_req_t req, const char* data, PooledBuffer owned, size_t size,
                uint64_t offset);

// fsync and fdatasync: a flush of the volume; replies with its status.
void StartFlush(const std::shared_ptr<Session>& session, const std::shared_ptr<VolumeState>& volume,
                fuse_req_t req);

// PUNCH_HOLE|KEEP_SIZE is a discard, ZERO_RANGE (with or without KEEP_SIZE)
// a write-zeroes; partial sectors at either end are zeroed by read-modify-
// write. Mode 0 and KEEP_SIZE allocate nothing (ENOSPC past the end for
// mode 0); other modes fail with EOPNOTSUPP.
void StartFallocate(const std::shared_ptr<Session>& session,
                    const std::shared_ptr<VolumeState>& volume, fuse_req_t req, int mode,
                    uint64_t offset, uint64_t length);

}  // namespace udm::daemon::volfs
