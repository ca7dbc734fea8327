// ControlClient: the client side of the control protocol, used by
// udmsetup and by tests (the dashboard speaks the same protocol with Qt).
// Blocking calls on one connection; not thread-safe.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include <nlohmann/json.hpp>

#include "control/socket_util.h"
#include "udm/error.h"

namespace udm::daemon {

// The socket of the system daemon (packaging/systemd/udmd.service passes
// it to udmd with --socket).
inline constexpr std::string_view kSystemSocketPath = "/run/udm/udm.sock";

// Where clients find the socket: `explicit_path` if given, else
// $UDM_SOCKET, else the caller's own daemon at $XDG_STATE_HOME/udm/udm.sock
// or $HOME/.local/state/udm/udm.sock (home from the password database when
// $HOME is unset). When that file does not exist but `system_socket` does,
// the system daemon's socket is used, so that root reaches the packaged
// udmd without options.
std::string ResolveSocketPath(const std::optional<std::string>& explicit_path = std::nullopt,
                              std::string_view system_socket = kSystemSocketPath);

// Refuses a socket file that another user could have planted: `path` must
// be a socket owned by the caller or by root.
Status CheckSocketFile(const std::string& path);

class ControlClient {
 public:
  ControlClient() = default;
  ControlClient(ControlClient&&) = default;
  ControlClient& operator=(ControlClient&&) = default;

  // Checks the socket file (CheckSocketFile), connects, and refuses a peer
  // that runs as neither the caller nor root (SO_PEERCRED).
  static Result<ControlClient> Connect(const std::string& path);

  // Sends one request and waits for its response (up to timeout_ms(); a
  // negative timeout waits forever, as `wait` needs). An error response
  // becomes the Error it names (ErrorFromWire); a broken connection or a
  // malformed response is kIo.
  Result<nlohmann::json> Call(std::string_view method,
                              const nlohmann::json& params = nlohmann::json::object());

  // After a successful Call("watch", ...): the next snapshot object
  // ({"time_ms": ..., "volumes": [...]}), waiting at most `timeout_ms`;
  // kBusy with ETIMEDOUT when none came.
  Result<nlohmann::json> ReadSnapshot(int timeout_ms);

  int timeout_ms() const { return timeout_ms_; }
  void set_timeout_ms(int ms) { timeout_ms_ = ms; }
  int fd() const { return fd_.get(); }

 private:
  explicit ControlClient(SocketFd fd) : fd_(std::move(fd)) {}
  // The next line without its '\n'.
  Result<std::string> ReadLine(int timeout_ms);
  Result<nlohmann::json> ReadFrame(int timeout_ms);

  SocketFd fd_;
  uint64_t next_id_ = 1;
  std::string buf_;  // bytes read past the last line
  int timeout_ms_ = -1;
};

}  // namespace udm::daemon
