// The control protocol client: socket discovery and ownership check,
// request/response calls, and reading watch snapshots.
#include "control/client.h"

#include <poll.h>
#include <pwd.h>
#include <sys/stat.h>
#include <unistd.h>

#include <chrono>
#include <cstdlib>

#include "control/protocol.h"

namespace udm::daemon {

using nlohmann::json;

namespace {

// Responses can be larger than requests (a big table); still bounded.
constexpr size_t kMaxResponseBytes = size_t{64} << 20;

std::string HomeDir() {
  if (const char* home = std::getenv("HOME"); home != nullptr && *home != '\0') return home;
  if (const passwd* pw = ::getpwuid(::geteuid()); pw != nullptr && pw->pw_dir != nullptr) {
    return pw->pw_dir;
  }
  return "/";
}

std::string StringField(const json& object, const char* key, const char* def) {
  auto it = object.find(key);
  return it != object.end() && it->is_string() ? it->get<std::string>() : def;
}

// "uid 65534 (nobody)", or just the number when the user is unknown.
std::string DescribeUid(uid_t uid) {
  passwd pw{};
  passwd* found = nullptr;
  char buf[1024];
  if (::getpwuid_r(uid, &pw, buf, sizeof(buf), &found) == 0 && found != nullptr) {
    return fmt::format("uid {} ({})", uid, found->pw_name);
  }
  return fmt::format("uid {}", uid);
}

bool TrustedUid(uid_t uid) { return uid == 0 || uid == ::geteuid(); }

int RemainingMs(std::chrono::steady_clock::time_point deadline, int timeout_ms) {
  if (timeout_ms < 0) return -1;
  auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
      deadline - std::chrono::steady_clock::now());
  return static_cast<int>(std::max<int64_t>(0, left.count()));
}

}  // namespace

std::string ResolveSocketPath(const std::optional<std::string>& explicit_path,
                              std::string_view system_socket) {
  if (explicit_path) return *explicit_path;
  if (const char* env = std::getenv("UDM_SOCKET"); env != nullptr && *env != '\0') return env;
  std::string own;
  if (const char* xdg = std::getenv("XDG_STATE_HOME"); xdg != nullptr && *xdg == '/') {
    own = std::string(xdg) + "/udm/udm.sock";
  } else {
    own = HomeDir() + "/.local/state/udm/udm.sock";
  }
  // Only a missing file falls through: a socket that exists but is stale
  // or someone else's is reported by Connect rather than silently skipped.
  struct stat st{};
  const std::string system(system_socket);
  if (::lstat(own.c_str(), &st) != 0 && errno == ENOENT && !system.empty() &&
      ::access(system.c_str(), R_OK | W_OK) == 0) {
    return system;
  }
  return own;
}

Status CheckSocketFile(const std::string& path) {
  struct stat st{};
  if (::stat(path.c_str(), &st) != 0) {
    int err = errno;
    if (err == ENOENT) {
      return Fail(ErrorCode::kNotFound, ENOENT,
                  "cannot connect to udmd: {} does not exist (is udmd running? see --socket, "
                  "UDM_SOCKET)", path);
    }
    return SysError(err, fmt::format("cannot connect to udmd: stat {}", path));
  }
  if (!S_ISSOCK(st.st_mode)) {
    return InvalidArgument("cannot connect to udmd: {} is not a socket", path);
  }
  if (!TrustedUid(st.st_uid)) {
    return std::unexpected(PermissionDenied(fmt::format(
        "refusing to use {}: it is owned by {}, not by you ({}) or root", path,
        DescribeUid(st.st_uid), DescribeUid(::geteuid()))));
  }
  return {};
}

Result<ControlClient> ControlClient::Connect(const std::string& path) {
  if (Status ok = CheckSocketFile(path); !ok) return std::unexpected(ok.error());
  auto fd = ConnectUnix(path);
  if (!fd) {
    Error e = fd.error();
    e.message = fmt::format("cannot connect to udmd: {}", e.message);
    if (e.sys_errno == ECONNREFUSED) e.message += " (is udmd running?)";
    return std::unexpected(std::move(e));
  }
  // The file check cannot see who listens: a socket file can be swapped
  // between it and connect. Ask the kernel who is at the other end.
  auto peer = PeerCredentials(fd->get());
  if (!peer) return std::unexpected(peer.error());
  if (!TrustedUid(peer->uid)) {
    return std::unexpected(PermissionDenied(fmt::format(
        "refusing to use {}: the process serving it (pid {}) runs as {}, not as you ({}) or root",
        path, peer->pid, DescribeUid(peer->uid), DescribeUid(::geteuid()))));
  }
  return ControlClient(std::move(*fd));
}

Result<json> ControlClient::Call(std::string_view method, const json& params) {
  if (!fd_.valid()) return Fail(ErrorCode::kIo, ENOTCONN, "not connected to udmd");
  uint64_t id = next_id_++;
  if (Status ok = SendAll(fd_.get(), EncodeRequest(id, method, params)); !ok) {
    return Fail(ErrorCode::kIo, ok.error().sys_errno, "lost the connection to udmd: {}",
                ok.error().message);
  }
  auto frame = ReadFrame(timeout_ms_);
  if (!frame) return std::unexpected(frame.error());
  auto error = frame->find("error");
  if (error != frame->end() && error->is_object()) {
    return std::unexpected(ErrorFromWire(StringField(*error, "code", "io"),
                                         StringField(*error, "message", "(no message)")));
  }
  auto got_id = frame->find("id");
  if (got_id == frame->end() || *got_id != id || !frame->contains("result")) {
    return Fail(ErrorCode::kIo, EPROTO, "udmd sent an unexpected response: {}",
                QuoteForMessage(frame->dump(-1, ' ', false, json::error_handler_t::replace)));
  }
  return std::move((*frame)["result"]);
}

Result<json> ControlClient::ReadSnapshot(int timeout_ms) {
  auto frame = ReadFrame(timeout_ms);
  if (!frame) return std::unexpected(frame.error());
  auto snapshot = frame->find("snapshot");
  if (snapshot == frame->end() || !snapshot->is_object()) {
    return Fail(ErrorCode::kIo, EPROTO, "udmd sent a line that is not a snapshot");
  }
  return std::move(*snapshot);
}

Result<json> ControlClient::ReadFrame(int timeout_ms) {
  auto line = ReadLine(timeout_ms);
  if (!line) return std::unexpected(line.error());
  json frame;
  try {
    frame = json::parse(*line);
  } catch (const json::exception& e) {
    return Fail(ErrorCode::kIo, EPROTO, "udmd sent a malformed line: {}", e.what());
  }
  if (!frame.is_object()) return Fail(ErrorCode::kIo, EPROTO, "udmd sent a line that is not an object");
  return frame;
}

Result<std::string> ControlClient::ReadLine(int timeout_ms) {
  auto deadline = std::chrono::steady_clock::now() + std::chrono::milliseconds(timeout_ms);
  size_t scanned = 0;
  for (;;) {
    size_t nl = buf_.find('\n', scanned);
    if (nl != std::string::npos) {
      std::string line = buf_.substr(0, nl);
      buf_.erase(0, nl + 1);
      return line;
    }
    scanned = buf_.size();
    if (buf_.size() > kMaxResponseBytes) return Fail(ErrorCode::kIo, EMSGSIZE, "udmd sent a line over 64 MiB");
    pollfd p{fd_.get(), POLLIN, 0};
    int rc = ::poll(&p, 1, RemainingMs(deadline, timeout_ms));
    if (rc < 0 && errno == EINTR) continue;
    if (rc < 0) return SysError(errno, "poll");
    if (rc == 0) return Fail(ErrorCode::kBusy, ETIMEDOUT, "udmd did not answer within {} ms", timeout_ms);
    char chunk[64 * 1024];
    ssize_t n = ::recv(fd_.get(), chunk, sizeof(chunk), 0);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) return SysError(errno, "lost the connection to udmd");
    if (n == 0) return Fail(ErrorCode::kIo, ECONNRESET, "udmd closed the connection");
    buf_.append(chunk, static_cast<size_t>(n));
  }
}

}  // namespace udm::daemon
