// udmd: the udm daemon. Restores the volumes from the state directory,
// exposes each as a file under the mount directory through FUSE, and
// serves the control socket until SIGTERM/SIGINT.
#include <fcntl.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <string>

#include "control/server.h"
#include "fuse/volume_fs.h"
#include "state/state_store.h"
#include "udm/targets/builtin.h"
#include "udmd/control_handler.h"
#include "volumes/volume_manager.h"

namespace udm::daemon {
namespace {

struct Options {
  std::string state_dir, mount_dir, socket_path;
  bool foreground = false;
  FuseTransport transport = FuseTransport::kAuto;
};

void Usage(FILE* out) {
  std::fputs(
      "usage: udmd [--state-dir DIR] [--mount DIR] [--socket PATH] [--fuse-transport T]\n"
      "            [--foreground]\n"
      "  --state-dir DIR  state (udm.db) lives here; default $XDG_STATE_HOME/udm or ~/.local/state/udm\n"
      "  --mount DIR      volume files appear here; default <state-dir>/volumes\n"
      "  --socket PATH    control socket; default <state-dir>/udm.sock\n"
      "  --fuse-transport auto|uring|dev\n"
      "                   how FUSE requests travel: io_uring (kernel 6.14+ with\n"
      "                   /sys/module/fuse/parameters/enable_uring=Y) or /dev/fuse;\n"
      "                   default auto: io_uring when the kernel offers it\n"
      "  --foreground     do not detach\n",
      out);
}

std::string DefaultStateDir() {
  if (const char* x = std::getenv("XDG_STATE_HOME"); x != nullptr && *x == '/') {
    return std::string(x) + "/udm";
  }
  const char* home = std::getenv("HOME");
  return std::string(home != nullptr && *home ? home : "/root") + "/.local/state/udm";
}

Result<Options> ParseArgs(int argc, char** argv) {
  Options o;
  for (int i = 1; i < argc; ++i) {
    const std::string a = argv[i];
    auto value = [&](std::string* out) -> Status {
      if (i + 1 >= argc) return InvalidArgument("{} needs a value", a);
      *out = argv[++i];
      return {};
    };
    Status st;
    if (a == "--state-dir") {
      st = value(&o.state_dir);
    } else if (a == "--mount") {
      st = value(&o.mount_dir);
    } else if (a == "--socket") {
      st = value(&o.socket_path);
    } else if (a == "--fuse-transport") {
      std::string t;
      st = value(&t);
      if (st && t == "auto") {
        o.transport = FuseTransport::kAuto;
      } else if (st && t == "uring") {
        o.transport = FuseTransport::kUring;
      } else if (st && t == "dev") {
        o.transport = FuseTransport::kDevice;
      } else if (st) {
        st = InvalidArgument("--fuse-transport: unknown transport '{}' (auto, uring or dev)", t);
      }
    } else if (a == "--foreground" || a == "-f") {
      o.foreground = true;
    } else if (a == "--help" || a == "-h") {
      Usage(stdout);
      std::exit(0);
    } else {
      return InvalidArgument("unknown option '{}'", a);
    }
    if (!st) return std::unexpected(st.error());
  }
  namespace fs = std::filesystem;
  if (o.state_dir.empty()) o.state_dir = DefaultStateDir();
  o.state_dir = fs::absolute(o.state_dir).lexically_normal().string();
  if (o.mount_dir.empty()) o.mount_dir = o.state_dir + "/volumes";
  o.mount_dir = fs::absolute(o.mount_dir).lexically_normal().string();
  if (o.socket_path.empty()) o.socket_path = o.state_dir + "/udm.sock";
  return o;
}

Status MakeDir(const std::string& dir, mode_t mode) {
  std::error_code ec;
  std::filesystem::create_directories(dir, ec);
  // A mount left by a killed udmd answers ENOTCONN: the directory exists,
  // and mounting detaches the dead mount (VolumeFs).
  if (ec.value() == ENOTCONN) return {};
  if (ec) return SysError(ec.value(), "mkdir " + dir);
  (void)chmod(dir.c_str(), mode);
  return {};
}

// Forwards volume changes to the FUSE layer.
class FsObserver : public VolumeObserver {
 public:
  explicit FsObserver(VolumeFs& fs) : fs_(fs) {}
  void VolumeChanged(uint64_t ino) override { fs_.NotifyChanged(ino, ""); }
  void VolumeListChanged(const std::string& name) override {
    (void)name;
    fs_.NotifyListChanged();
  }
  void Settle() override { fs_.Settle(); }

 private:
  VolumeFs& fs_;
};

// Tells the waiting parent we serve, then lets go of its terminal: from
// now on messages go to <state-dir>/udmd.log.
void Detach(const Options& o, int ready_fd) {
  const char ok = 0;
  [[maybe_unused]] ssize_t n = write(ready_fd, &ok, 1);
  close(ready_fd);
  const int null = open("/dev/null", O_RDONLY | O_CLOEXEC);
  const int log = open((o.state_dir + "/udmd.log").c_str(),
                       O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0600);
  if (null >= 0) dup2(null, 0);
  if (log >= 0) {
    dup2(log, 1);
    dup2(log, 2);
  }
  if (null > 2) close(null);
  if (log > 2) close(log);
}

int Run(const Options& o, int ready_fd) {
  auto fail = [&](const Error& e) {
    std::fprintf(stderr, "udmd: %s\n", e.message.c_str());
    return 1;
  };
  if (auto st = MakeDir(o.state_dir, 0700); !st) return fail(st.error());
  // The mount of a killed udmd answers ENOTCONN once the kernel stops
  // trusting its cached attributes; VolumeFs detaches it when mounting.
  if (auto st = MakeDir(o.mount_dir, 0755); !st && st.error().sys_errno != ENOTCONN) {
    return fail(st.error());
  }
  // Writeback of a loop-mounted filesystem may depend on us: never let our
  // own allocations recurse into that writeback.
  if (prctl(PR_SET_IO_FLUSHER, 1, 0, 0, 0) != 0) {
    std::fprintf(stderr, "udmd: PR_SET_IO_FLUSHER: %s (continuing)\n", std::strerror(errno));
  }
  auto store = StateStore::Open(o.state_dir + "/udm.db");
  if (!store) return fail(store.error());
  auto worker = UringWorker::Start();
  if (!worker) return fail(worker.error());
  VolumeManager volumes(**store, BuiltinTargets(), *worker, o.mount_dir);
  auto restored = volumes.Restore();
  if (!restored) return fail(restored.error());

  VolumeFsOptions fs_opts;
  fs_opts.transport = o.transport;
  auto fs = VolumeFs::Mount(o.mount_dir, volumes, fs_opts);
  if (!fs) return fail(fs.error());
  FsObserver observer(**fs);
  volumes.SetObserver(&observer);

  ControlHandler handler(volumes, BuiltinTargets());
  ControlServerOptions srv_opts;
  auto server = ControlServer::Start(o.socket_path, handler, srv_opts);
  if (!server) return fail(server.error());

  std::fprintf(stderr, "udmd: %zu volume(s) restored; files in %s; socket %s\n", *restored,
               o.mount_dir.c_str(), o.socket_path.c_str());
  if (ready_fd >= 0) Detach(o, ready_fd);

  sigset_t set;
  sigemptyset(&set);
  sigaddset(&set, SIGTERM);
  sigaddset(&set, SIGINT);
  int sig = 0;
  sigwait(&set, &sig);
  std::fprintf(stderr, "udmd: %s: shutting down\n", strsignal(sig));
  (*server).reset();         // stop accepting commands
  volumes.SetObserver(nullptr);
  (*fs).reset();             // unmount: no new I/O
  volumes.FlushAll();        // drain and flush every volume
  return 0;
}

}  // namespace
}  // namespace udm::daemon

int main(int argc, char** argv) {
  auto opts = udm::daemon::ParseArgs(argc, argv);
  if (!opts) {
    std::fprintf(stderr, "udmd: %s\n", opts.error().message.c_str());
    udm::daemon::Usage(stderr);
    return 2;
  }
  // Signals are taken by sigwait in the main thread only.
  sigset_t set;
  sigemptyset(&set);
  sigaddset(&set, SIGTERM);
  sigaddset(&set, SIGINT);
  pthread_sigmask(SIG_BLOCK, &set, nullptr);
  signal(SIGPIPE, SIG_IGN);

  if (opts->foreground) return udm::daemon::Run(*opts, -1);
  int pipefd[2];
  if (pipe(pipefd) != 0) return 1;
  const pid_t pid = fork();
  if (pid < 0) return 1;
  if (pid > 0) {  // the parent exits once the daemon serves, or with its failure
    close(pipefd[1]);
    char c;
    return read(pipefd[0], &c, 1) == 1 ? 0 : 1;
  }
  close(pipefd[0]);
  setsid();
  return udm::daemon::Run(*opts, pipefd[1]);
}
