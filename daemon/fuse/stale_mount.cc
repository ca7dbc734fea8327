// A killed udmd's FUSE connection is aborted when the last reference to its
// /dev/fuse file goes. With FUSE over io_uring the ring holds references
// that the kernel drops in a deferred teardown after the process is gone,
// so a daemon restarted at once may find the old mount still answering
// from cached attributes. Mounting over it would hide it, stale, below the
// new one; so the mount table is read instead of trusting stat().
#include "fuse/stale_mount.h"

#include <signal.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <unistd.h>

#include <cerrno>
#include <charconv>
#include <fstream>
#include <sstream>
#include <vector>

#include <fmt/core.h>

namespace udm::daemon::volfs {
namespace {

struct MountEntry {
  std::string source;
  std::string fstype;
  unsigned minor = 0;  // of the anonymous device: the FUSE connection's number
};

// mountinfo escapes space, tab, newline and backslash as \ooo.
std::string Unescape(const std::string& s) {
  std::string out;
  for (size_t i = 0; i < s.size(); ++i) {
    if (s[i] == '\\' && i + 3 < s.size()) {
      out += static_cast<char>(std::stoi(s.substr(i + 1, 3), nullptr, 8));
      i += 3;
    } else {
      out += s[i];
    }
  }
  return out;
}

// The mounts on `mountpoint`, bottom first.
std::vector<MountEntry> MountsAt(const std::string& mountpoint) {
  std::vector<MountEntry> found;
  std::ifstream in("/proc/self/mountinfo");
  std::string line;
  while (std::getline(in, line)) {
    std::istringstream f(line);
    std::string id, parent, devno, root, point, field;
    f >> id >> parent >> devno >> root >> point;
    if (Unescape(point) != mountpoint) continue;
    while (f >> field && field != "-") {
    }
    MountEntry e;
    f >> e.fstype >> e.source;
    e.source = Unescape(e.source);
    const size_t colon = devno.find(':');
    if (colon != std::string::npos) e.minor = static_cast<unsigned>(std::stoul(devno.substr(colon + 1)));
    found.push_back(e);
  }
  return found;
}

// The pid in a "udm:<pid>" source; 0 for any other source.
pid_t OwnerOf(const MountEntry& m) {
  if (m.fstype.rfind("fuse", 0) != 0 || m.source.rfind("udm:", 0) != 0) return 0;
  pid_t pid = 0;
  const char* p = m.source.data() + 4;
  std::from_chars(p, m.source.data() + m.source.size(), pid);
  return pid;
}

bool IsLiveUdmd(pid_t pid) {
  if (pid <= 0 || pid == getpid() || kill(pid, 0) != 0) return false;
  std::ifstream comm("/proc/" + std::to_string(pid) + "/comm");
  std::string name;
  comm >> name;
  return name == "udmd";
}

Status Detach(const std::string& mountpoint, const std::string& why) {
  fmt::print(stderr, "udmd: fuse: detaching stale FUSE mount at {} ({})\n", mountpoint, why);
  if (umount2(mountpoint.c_str(), MNT_DETACH) != 0) {
    return SysError(errno, "detach stale mount " + mountpoint);
  }
  return {};
}

}  // namespace

std::string MountSource() { return fmt::format("udm:{}", getpid()); }

Status ClearStaleMounts(const std::string& mountpoint) {
  for (int round = 0; round < 16; ++round) {
    const auto mounts = MountsAt(mountpoint);
    if (mounts.empty()) break;
    const MountEntry& top = mounts.back();
    const pid_t owner = OwnerOf(top);
    if (owner == 0) break;  // not one of ours: stat() below decides
    if (IsLiveUdmd(owner)) {
      return Fail(ErrorCode::kInvalidArgument, EBUSY,
                  "mountpoint {} is served by a running udmd (pid {})", mountpoint, owner);
    }
    // Make every process still waiting on the dead daemon fail now.
    std::ofstream(fmt::format("/sys/fs/fuse/connections/{}/abort", top.minor)) << "1";
    if (Status st = Detach(mountpoint, fmt::format("udmd pid {} is gone", owner)); !st) return st;
  }
  struct stat st{};
  if (stat(mountpoint.c_str(), &st) != 0) {
    if (errno != ENOTCONN) return SysError(errno, "stat mountpoint " + mountpoint);
    if (Status d = Detach(mountpoint, "it answers ENOTCONN"); !d) return d;
    if (stat(mountpoint.c_str(), &st) != 0) return SysError(errno, "stat mountpoint " + mountpoint);
  }
  if (!S_ISDIR(st.st_mode)) {
    return Fail(ErrorCode::kInvalidArgument, ENOTDIR, "mountpoint {} is not a directory",
                mountpoint);
  }
  return {};
}

}  // namespace udm::daemon::volfs
