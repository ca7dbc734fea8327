// DeviceIo: the /dev/fuse reads and writes of a libfuse session, routed
// through udmd's hooks. libfuse 3.14 cannot express some reply flags the
// kernel understands (FOPEN_PARALLEL_DIRECT_WRITES came in 3.14.1), and it
// reads a WRITE's payload 80 bytes into its buffer, unaligned for O_DIRECT.
// The read hook puts payloads in page-aligned pool buffers instead, and the
// write hook adds the flags a callback marked.
#pragma once

#include <fuse_lowlevel.h>

#include <cstddef>
#include <cstdint>

#include "fuse/buffer_pool.h"

namespace udm::daemon::volfs {

struct FsState;

// Routes the session's device I/O through the hooks; `fs` is the session's
// userdata. Call once, after fuse_session_mount() and before the loop.
int InstallDeviceIo(fuse_session* se);

// The next open reply sent by this thread gets `flags` (FOPEN_*) added to
// what libfuse puts in it. Call right before fuse_reply_open(); the mark is
// consumed by that reply (or dropped by ClearOpenReplyFlags if it failed).
void AddOpenReplyFlags(uint32_t flags);
void ClearOpenReplyFlags();

// The payload of the WRITE this thread is handling. libfuse hands the write
// callback a pointer into its own buffer (`libfuse_data`), where the read
// hook left no payload: the bytes are in a page-aligned staging buffer.
struct WritePayload {
  const char* data;    // the payload; valid during the write callback
  PooledBuffer owned;  // set when the caller may keep the buffer (payload at offset 0)
};
// Call once from the write callback, with the arguments libfuse gave it.
WritePayload TakeWritePayload(const char* libfuse_data, size_t size);

}  // namespace udm::daemon::volfs
