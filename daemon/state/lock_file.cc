// LockFile: flock(LOCK_EX | LOCK_NB) on a side file next to the database,
// plus the holder's pid for the second daemon's error message.
#include "state/lock_file.h"

#include <fcntl.h>
#include <sys/file.h>
#include <unistd.h>

#include <cerrno>
#include <charconv>
#include <string_view>

namespace udm::daemon {
namespace {

// The pid recorded by the current holder, or 0 if unreadable.
long ReadHolderPid(int fd) {
  char buf[32] = {};
  ssize_t n = pread(fd, buf, sizeof(buf) - 1, 0);
  if (n <= 0) return 0;
  long pid = 0;
  std::string_view text(buf, static_cast<size_t>(n));
  auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), pid);
  if (ec != std::errc() || end == text.data() || pid <= 0) return 0;
  return pid;
}

}  // namespace

Result<std::unique_ptr<LockFile>> LockFile::Acquire(const std::string& path,
                                                    const std::string& what) {
  int fd = open(path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0600);
  if (fd < 0) return SysError(errno, fmt::format("{}: open lock file {}", what, path));
  if (flock(fd, LOCK_EX | LOCK_NB) != 0) {
    int err = errno;
    if (err != EWOULDBLOCK) {
      close(fd);
      return SysError(err, fmt::format("{}: lock {}", what, path));
    }
    long pid = ReadHolderPid(fd);
    close(fd);
    if (pid > 0) {
      return Fail(ErrorCode::kBusy, EBUSY, "{} is in use by another udmd (pid {})", what, pid);
    }
    return Fail(ErrorCode::kBusy, EBUSY, "{} is in use by another udmd (lock file {})", what,
                path);
  }
  // Best effort: the pid only improves the message a second daemon prints.
  std::string pid = fmt::format("{}\n", static_cast<long>(getpid()));
  if (ftruncate(fd, 0) == 0) {
    [[maybe_unused]] ssize_t n = pwrite(fd, pid.data(), pid.size(), 0);
  }
  return std::unique_ptr<LockFile>(new LockFile(fd));
}

LockFile::~LockFile() { close(fd_); }

}  // namespace udm::daemon
