// VolumeFs: mounting (including recovery of a stale mount), the session
// loop thread, a clean shutdown, and the notifications from the control side.
#include "fuse/volume_fs.h"

#include <fcntl.h>
#include <sys/eventfd.h>
#include <sys/mount.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <chrono>
#include <cstring>
#include <ctime>
#include <unordered_set>

#include <fmt/core.h>

#include "fuse/device_io.h"
#include "fuse/fs_ops.h"
#include "fuse/fs_state.h"
#include "fuse/invalidator.h"
#include "fuse/stale_mount.h"
#include "fuse/uring_transport.h"

namespace udm::daemon {
namespace {

std::string MountOptions(const VolumeFsOptions& opts) {
  std::string o = "default_permissions,subtype=udm,fsname=" + volfs::MountSource();
  if (opts.allow_other) o += ",allow_other";
  return o;
}

// PR_SET_IO_FLUSHER keeps memory reclaim from waiting on this daemon's own
// I/O (a loop-mounted volume under memory pressure). The flag is inherited
// by the worker threads libfuse creates from this thread.
void MarkIoFlusher() {
  if (prctl(PR_SET_IO_FLUSHER, 1, 0, 0, 0) != 0) {
    fmt::print(stderr,
               "udmd: fuse: PR_SET_IO_FLUSHER failed ({}; it needs CAP_SYS_RESOURCE); a "
               "loop-mounted volume may deadlock under memory pressure\n",
               std::strerror(errno));
  }
}

}  // namespace

Result<std::unique_ptr<VolumeFs>> VolumeFs::Mount(const std::string& mountpoint,
                                                  VolumeDirectory& dir,
                                                  const VolumeFsOptions& opts) {
  std::unique_ptr<VolumeFs> fs(new VolumeFs);
  if (Status st = fs->Start(mountpoint, dir, opts); !st) return std::unexpected(st.error());
  return fs;
}

VolumeFs::~VolumeFs() { Unmount(); }

Status VolumeFs::Start(const std::string& mountpoint, VolumeDirectory& dir,
                       const VolumeFsOptions& opts) {
  if (opts.threads == 0) return InvalidArgument("FUSE threads must be at least 1");
  if (Status st = volfs::ClearStaleMounts(mountpoint); !st) return st;

  VolumeFsOptions resolved = opts;
  resolved.uid = opts.uid.value_or(getuid());
  resolved.gid = opts.gid.value_or(getgid());
  state_ = std::make_shared<volfs::FsState>(dir, resolved);
  state_->session = std::make_shared<volfs::Session>();
  clock_gettime(CLOCK_REALTIME, &state_->mount_time);

  const std::string options = MountOptions(resolved);
  const char* argv[] = {"udmd", "-o", options.c_str()};
  fuse_args args = FUSE_ARGS_INIT(3, const_cast<char**>(argv));
  fuse_session* se = fuse_session_new(&args, &volfs::VolumeFsOps(), sizeof(fuse_lowlevel_ops),
                                      state_.get());
  fuse_opt_free_args(&args);
  if (se == nullptr) {
    return Fail(ErrorCode::kInvalidArgument, EINVAL, "FUSE session for {} with options '{}'",
                mountpoint, options);
  }
  state_->session->se = se;
  if (opts.transport != FuseTransport::kDevice) {
    state_->want_uring = true;
    state_->stop_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
    if (state_->stop_fd < 0) return SysError(errno, "eventfd");
  }
  if (fuse_session_mount(se, mountpoint.c_str()) != 0) {
    return Fail(ErrorCode::kIo, EIO, "FUSE mount at {} failed (see the log)", mountpoint);
  }
  mounted_ = true;
  mountpoint_ = mountpoint;
  if (int rc = volfs::InstallDeviceIo(se); rc != 0) {
    return Fail(ErrorCode::kIo, -rc, "FUSE device I/O hooks for {}", mountpoint);
  }
  invalidator_ = std::make_unique<volfs::Invalidator>(*state_);
  loop_ = std::thread([this] { Loop(); });
  root_fd_ = open(mountpoint.c_str(), O_PATH | O_DIRECTORY | O_CLOEXEC);
  if (state_->want_uring) StartRing(opts);
  if (ring_ == nullptr) {
    fmt::print(stderr, "udmd: fuse: {} served through /dev/fuse ({} threads{})\n", mountpoint_,
               opts.threads, opts.clone_fd ? ", one descriptor each" : "");
  }
  return {};
}

// Waits for the INIT exchange (the kernel sends INIT at mount; the loop
// answers it), then registers the ring's queues. Any failure leaves the
// session on /dev/fuse, which serves everything until the ring is ready.
void VolumeFs::StartRing(const VolumeFsOptions& opts) {
  // The kernel sends INIT when the mount is made; the loop answers it.
  for (int i = 0; i < 10000 && !state_->init_done.load(); ++i) usleep(1000);
  const bool explicit_ring = opts.transport == FuseTransport::kUring;
  if (!state_->init_done.load()) {
    fmt::print(stderr, "udmd: fuse: INIT for {} not answered within 10 s; serving through "
               "/dev/fuse\n", mountpoint_);
    return;
  }
  if (!state_->uring_negotiated.load()) {
    if (explicit_ring) {
      fmt::print(stderr,
                 "udmd: fuse: the kernel does not offer FUSE over io_uring (is "
                 "/sys/module/fuse/parameters/enable_uring Y?); serving {} through /dev/fuse\n",
                 mountpoint_);
    }
    return;
  }
  auto ring = volfs::UringTransport::Start(state_->session->se,
                                           fuse_session_fd(state_->session->se),
                                           opts.uring_depth, state_->max_payload.load());
  if (!ring) {
    fmt::print(stderr, "udmd: fuse: FUSE over io_uring for {} failed ({}); serving through "
               "/dev/fuse\n", mountpoint_, ring.error().message);
    return;
  }
  ring_ = std::move(*ring);
  fmt::print(stderr, "udmd: fuse: {} served through io_uring ({} queues of {} entries)\n",
             mountpoint_, ring_->queues(), opts.uring_depth);
}

void VolumeFs::Loop() {
  MarkIoFlusher();
  fuse_loop_config* cfg = fuse_loop_cfg_create();
  fuse_loop_cfg_set_clone_fd(cfg, state_->options.clone_fd ? 1 : 0);
  fuse_loop_cfg_set_max_threads(cfg, state_->options.threads);
  const int rc = fuse_session_loop_mt(state_->session->se, cfg);
  fuse_loop_cfg_destroy(cfg);
  loop_done_ = true;
  if (rc != 0) fmt::print(stderr, "udmd: fuse: session loop for {} ended: {}\n", mountpoint_, rc);
}

// fuse_session_loop_mt() notices fuse_session_exit() only when a worker
// finishes a request, and a worker drops requests it reads after the exit
// (leaving their senders waiting). So the exit is made by a request: the
// lookup of a name that never exists, answered ENOENT.
void VolumeFs::WakeLoop() {
  static std::atomic<uint64_t> counter{0};
  const std::string name =
      fmt::format("{}{}-{}", volfs::kWakePrefix, getpid(), counter.fetch_add(1));
  struct stat st{};
  if (root_fd_ >= 0) {
    fstatat(root_fd_, name.c_str(), &st, AT_SYMLINK_NOFOLLOW);
  } else {
    stat((mountpoint_ + "/" + name).c_str(), &st);
  }
}

void VolumeFs::Unmount() {
  if (state_ == nullptr) return;
  if (invalidator_ != nullptr) invalidator_->Stop();
  fuse_session* se = state_->session->se;
  if (loop_.joinable()) {
    state_->stopping = true;
    if (state_->stop_fd >= 0) {
      // The loop waits on the stop eventfd too: no request needed.
      if (ring_ != nullptr) ring_->Stop();
      fuse_session_exit(se);  // before the wake-up: the loop leaves when it sees both
      const uint64_t one = 1;
      [[maybe_unused]] ssize_t n = write(state_->stop_fd, &one, sizeof(one));
    } else if (!loop_done_) {
      WakeLoop();  // a loop that ended by itself answers nothing
    }
    fuse_session_exit(se);  // in case the loop had ended already
    loop_.join();
  }
  ring_.reset();
  if (state_->stop_fd >= 0) close(state_->stop_fd);
  state_->stop_fd = -1;
  if (root_fd_ >= 0) close(root_fd_);
  root_fd_ = -1;
  if (mounted_) fuse_session_unmount(se);  // lazy: open files keep the old mount
  mounted_ = false;
  ReleaseOpenFiles();
  invalidator_.reset();
  state_.reset();  // the session lives on until the last request in flight is answered
}

// Handles the kernel never released because the session ended first.
void VolumeFs::ReleaseOpenFiles() {
  std::unordered_set<volfs::OpenFile*> files;
  std::unordered_set<volfs::DirHandle*> dirs;
  {
    std::lock_guard<std::mutex> g(state_->mu);
    files.swap(state_->open_files);
    dirs.swap(state_->open_dirs);
  }
  for (volfs::OpenFile* f : files) {
    state_->dir.Released(f->volume->ino);
    delete f;
  }
  for (volfs::DirHandle* d : dirs) delete d;
}

void VolumeFs::NotifyChanged(uint64_t ino, const std::string& old_name_or_empty) {
  if (invalidator_ != nullptr) invalidator_->Inode(ino, old_name_or_empty);
}

void VolumeFs::NotifyListChanged() {
  if (invalidator_ != nullptr) invalidator_->List();
}

void VolumeFs::Settle() {
  // A notification can wait for a FUSE request that a suspended volume
  // holds; the command then returns without it rather than hang.
  if (invalidator_ != nullptr) (void)invalidator_->Settle(std::chrono::seconds(1));
}

}  // namespace udm::daemon
