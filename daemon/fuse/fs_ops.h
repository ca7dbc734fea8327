// The FUSE operations table of a volume file system: the root directory
// lists the volumes, each volume is a regular file.
#pragma once

#include <fuse_lowlevel.h>

namespace udm::daemon::volfs {

// The session's userdata must be the FsState the table serves.
const fuse_lowlevel_ops& VolumeFsOps();

}  // namespace udm::daemon::volfs
