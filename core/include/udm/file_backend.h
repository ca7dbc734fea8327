// Files and block devices as BlockDevices, driven through io_uring.
//
// A UringWorker owns one io_uring and the thread that reaps it; other
// threads post requests to it and never touch the ring. FileBackends share
// a worker. Files open with O_DIRECT; requests whose memory or offset is not
// aligned for direct I/O go through a second, buffered descriptor of the
// same file, and a filesystem that refuses O_DIRECT makes the backend
// buffered (status says so).
#pragma once

#include <cstdint>
#include <memory>
#include <string>

#include "udm/block_device.h"
#include "udm/error.h"

namespace udm {

class UringWorker {
 public:
  // Starts the ring and its thread. `entries` is the submission queue size.
  static Result<std::shared_ptr<UringWorker>> Start(unsigned entries = 256);
  virtual ~UringWorker() = default;
};

struct FileBackendOptions {
  bool writable = true;
  bool allow_direct = true;  // false: always buffered
};

// Opens `path` (absolute) as a backend. The backend keeps `worker` alive.
// Flush is fdatasync (io_uring fsync with DATASYNC); FUA writes are
// RWF_DSYNC; discard punches a hole (files) or discards (block devices);
// write-zeroes uses FALLOC_FL_ZERO_RANGE, falling back to writing zeros.
// Short transfers and EAGAIN are retried, never surfaced. A file
// truncated under a live backend fails reads and writes past its new end
// with -EIO (writes do not grow it back) until it is restored.
Result<std::shared_ptr<BlockDevice>> OpenFileBackend(const std::string& path,
                                                     std::shared_ptr<UringWorker> worker,
                                                     const FileBackendOptions& options);

}  // namespace udm
