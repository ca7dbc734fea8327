// State shared by the FUSE callbacks, the request state machines and
// VolumeFs: the session (kept alive by every request in flight), per-volume
// I/O state, and the open-file and directory handles given to the kernel.
#pragma once

#include <fuse_lowlevel.h>
#include <sys/stat.h>

#include <cstdint>
#include <map>
#include <atomic>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <unordered_map>
#include <unordered_set>
#include <vector>

#include "fuse/buffer_pool.h"
#include "fuse/range_lock.h"
#include "fuse/volume_fs.h"
#include "volumes/volume_directory.h"

namespace udm::daemon::volfs {

// The libfuse session and what completions need after VolumeFs is gone.
// Requests in flight hold a reference: a reply needs the session, so it is
// destroyed only when the last request has been answered.
struct Session {
  Session() = default;
  ~Session() {
    if (se != nullptr) fuse_session_destroy(se);
  }
  Session(const Session&) = delete;
  Session& operator=(const Session&) = delete;

  fuse_session* se = nullptr;  // set once at mount, before any request
  BufferPool pool;
};

// I/O state of one volume, shared by all its open files and requests.
struct VolumeState {
  uint64_t ino = 0;
  std::shared_ptr<MappedDevice> device;
  bool read_only = false;
  RangeLock range_lock;  // serializes read-modify-write with other writes
};

// fi->fh of an open volume file.
struct OpenFile {
  std::shared_ptr<VolumeState> volume;
};

// fi->fh of the open root directory: the listing it reads from.
struct DirHandle {
  std::vector<VolumeHandle> entries;
};

// Names looked up by Unmount() to stop the session loop (see WakeLoop).
inline constexpr std::string_view kWakePrefix = ".udm-unmount-";

// The userdata of the session. Lives until the loop threads are joined.
struct FsState {
  FsState(VolumeDirectory& d, const VolumeFsOptions& o) : dir(d), options(o) {}

  VolumeDirectory& dir;
  const VolumeFsOptions options;  // uid and gid resolved
  std::shared_ptr<Session> session;
  timespec mount_time{};
  // Set by Unmount(): the lookup of a kWakePrefix name ends the session loop.
  std::atomic<bool> stopping{false};

  // A leaf lock: the directory is never called with it held.
  std::mutex mu;
  std::unordered_map<uint64_t, std::weak_ptr<VolumeState>> volumes;  // guarded by mu
  // Names the kernel may have cached a dentry for, with their inode.
  std::map<std::string, uint64_t, std::less<>> known_names;  // guarded by mu
  // FUSE over io_uring (see uring_transport.h). `want_uring` is set before
  // the mount; the INIT exchange on /dev/fuse fills in the rest.
  bool want_uring = false;
  std::atomic<bool> kernel_offers_uring{false};
  std::atomic<uint64_t> init_unique{0};
  std::atomic<bool> init_done{false};  // the INIT reply was written
  std::atomic<bool> uring_negotiated{false};
  std::atomic<uint32_t> max_payload{0};  // bytes, from the INIT reply
  // An eventfd that, once readable, makes the /dev/fuse read hook return
  // at once (ring mode: the libfuse loop sees almost no requests there).
  int stop_fd = -1;

  // Handles the kernel holds, freed at unmount if it never released them.
  std::unordered_set<OpenFile*> open_files;  // guarded by mu
  std::unordered_set<DirHandle*> open_dirs;  // guarded by mu
};

}  // namespace udm::daemon::volfs
