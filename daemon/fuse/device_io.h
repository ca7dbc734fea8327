// DeviceIo: the /dev/fuse reads and writes of a libfuse session, routed
// through udmd. libfuse 3.14 cannot express some reply flags the kernel
// understands (FOPEN_PARALLEL_DIRECT_WRITES came in 3.14.1); a callback
// marks the reply it is about to send and the write hook adds the flags.
#pragma once

#include <fuse_lowlevel.h>

#include <cstdint>

namespace udm::daemon::volfs {

// Routes the session's device I/O through the hooks. Call once, after
// fuse_session_mount() and before the session loop starts.
int InstallDeviceIo(fuse_session* se);

// The next open reply sent by this thread gets `flags` (FOPEN_*) added to
// what libfuse puts in it. Call right before fuse_reply_open(); the mark is
// consumed by that reply (or dropped by ClearOpenReplyFlags if it failed).
void AddOpenReplyFlags(uint32_t flags);
void ClearOpenReplyFlags();

}  // namespace udm::daemon::volfs
