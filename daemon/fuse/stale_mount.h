// Finding and removing the FUSE mount a dead udmd left on a mountpoint.
#pragma once

#include <string>

#include "udm/error.h"

namespace udm::daemon::volfs {

// The fsname udmd mounts with: "udm:<pid>", so that a later daemon can tell
// a mount whose server is gone (or going) from one another udmd serves.
std::string MountSource();

// Makes `mountpoint` ready for a new mount: every udm mount stacked there
// whose daemon is dead is aborted (its waiters get ENOTCONN at once) and
// detached, and so is any FUSE mount there that answers ENOTCONN. Fails,
// changing nothing, when a live udmd serves the mountpoint, or when it is
// not a directory.
Status ClearStaleMounts(const std::string& mountpoint);

}  // namespace udm::daemon::volfs
