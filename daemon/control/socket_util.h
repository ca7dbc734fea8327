// Small POSIX helpers for the control socket: an owning descriptor, Unix
// stream socket addresses and connects, peer credentials, and sends that
// never raise SIGPIPE. errno is translated to udm::Error here.
#pragma once

#include <sys/socket.h>
#include <sys/un.h>

#include <cstddef>
#include <optional>
#include <string>
#include <string_view>
#include <utility>

#include "udm/error.h"

namespace udm::daemon {

// Owns one file descriptor; closes it on destruction.
class SocketFd {
 public:
  SocketFd() = default;
  explicit SocketFd(int fd) : fd_(fd) {}
  SocketFd(SocketFd&& other) noexcept : fd_(std::exchange(other.fd_, -1)) {}
  SocketFd& operator=(SocketFd&& other) noexcept;
  SocketFd(const SocketFd&) = delete;
  SocketFd& operator=(const SocketFd&) = delete;
  ~SocketFd() { Reset(); }

  int get() const { return fd_; }
  bool valid() const { return fd_ >= 0; }
  void Reset(int fd = -1);

 private:
  int fd_ = -1;
};

// The address of `path`; fails if it does not fit sun_path.
Result<sockaddr_un> UnixAddress(const std::string& path);

// A connected, close-on-exec Unix stream socket (blocking connect).
Result<SocketFd> ConnectUnix(const std::string& path);

// Writes all of `data`, blocking while the peer is slow. An error means the
// peer is gone (EPIPE, ECONNRESET) or the socket was shut down.
Status SendAll(int fd, std::string_view data);

// Writes what fits without blocking; returns the bytes written (0 when the
// send buffer is full).
Result<size_t> SendSome(int fd, std::string_view data);

// Bytes sent on `fd` that the peer has not read yet (SIOCOUTQ), or nullopt
// when the kernel cannot tell.
std::optional<size_t> UnreadBytes(int fd);

// The credentials of the process at the other end of `fd` (SO_PEERCRED).
Result<ucred> PeerCredentials(int fd);

// True when `gid` is the primary or a supplementary group of process `pid`
// (read from /proc/<pid>/status).
bool ProcessInGroup(pid_t pid, gid_t primary_gid, gid_t gid);

}  // namespace udm::daemon
