// VolumeFs: the daemon's volumes as regular files <mount>/<name> through a
// libfuse low-level session. Every read, write, fsync and fallocate becomes
// requests to the volume's MappedDevice, answered from their completion.
#pragma once

#include <sys/types.h>

#include <atomic>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <thread>

#include "udm/error.h"
#include "volumes/volume_directory.h"

namespace udm::daemon {

namespace volfs {
struct FsState;
class Invalidator;
class UringTransport;
}  // namespace volfs

// How requests travel between the kernel and udmd.
enum class FuseTransport {
  kDevice,  // read() and writev() on /dev/fuse
  kUring,   // FUSE over io_uring; /dev/fuse (with a warning) if the kernel does not offer it
  kAuto,    // the ring if the kernel offers it, else /dev/fuse
};

struct VolumeFsOptions {
  std::optional<uid_t> uid;  // owner of the files; default: the daemon's uid
  std::optional<gid_t> gid;  // default: the daemon's gid
  mode_t file_mode = 0600;   // permission bits of a volume file (0660 with a group)
  unsigned threads = 4;      // FUSE worker threads
  bool allow_other = false;  // let other users in (permissions still apply)
  bool clone_fd = true;      // one /dev/fuse descriptor per worker thread
  FuseTransport transport = FuseTransport::kDevice;
  unsigned uring_depth = 64;  // ring entries (requests in flight) per CPU queue
};

class VolumeFs {
 public:
  // Mounts at `mountpoint` (an existing directory) and starts serving. A
  // stale FUSE mount left there by a crashed daemon is detached first.
  // `dir` must outlive the VolumeFs.
  static Result<std::unique_ptr<VolumeFs>> Mount(const std::string& mountpoint,
                                                 VolumeDirectory& dir,
                                                 const VolumeFsOptions& opts);
  // Unmount().
  ~VolumeFs();

  VolumeFs(const VolumeFs&) = delete;
  VolumeFs& operator=(const VolumeFs&) = delete;

  // Stops serving, joins the FUSE threads and detaches the mount. Requests
  // still in flight in the engine are answered when they complete. Idempotent;
  // must not be called from a FUSE callback or an I/O completion, nor with
  // the directory's lock held.
  void Unmount();

  // The kernel forgets what it cached about volume `ino` (size, mode), and
  // the entry `old_name` if not empty (after a rename or remove). Returns at
  // once; the invalidation runs on a thread of its own, so callers may hold
  // their locks and never wait for FUSE requests in progress.
  void NotifyChanged(uint64_t ino, const std::string& old_name_or_empty);
  // The listing changed (create, remove, rename): cached entries that no
  // longer match the directory are dropped. Returns at once, like above.
  void NotifyListChanged();
  // Waits (at most about a second) until what was notified so far reached
  // the kernel, so that a control command's change is visible once it
  // returns. Call with no lock held that a FUSE request may need.
  void Settle();

  const std::string& mountpoint() const { return mountpoint_; }

 private:
  VolumeFs() = default;
  Status Start(const std::string& mountpoint, VolumeDirectory& dir,
               const VolumeFsOptions& opts);
  void Loop();
  void WakeLoop();
  void ReleaseOpenFiles();
  void StartRing(const VolumeFsOptions& opts);

  std::string mountpoint_;
  std::shared_ptr<volfs::FsState> state_;
  std::unique_ptr<volfs::Invalidator> invalidator_;
  int root_fd_ = -1;  // O_PATH descriptor of the mounted root, to wake the loop
  bool mounted_ = false;
  std::atomic<bool> loop_done_{false};  // the loop has returned (set by loop_)
  std::thread loop_;                    // runs fuse_session_loop_mt()
  std::shared_ptr<volfs::UringTransport> ring_;  // set when FUSE over io_uring is in use
};

}  // namespace udm::daemon
