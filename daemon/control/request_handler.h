// What the control server calls for each request: the daemon's volume
// manager implements RequestHandler; tests use a fake. The server owns the
// framing, credentials, parameter checks and `watch`; the handler owns the
// meaning of every other method.
#pragma once

#include <string>

#include <nlohmann/json.hpp>

#include "udm/error.h"

namespace udm::daemon {

class RequestHandler {
 public:
  virtual ~RequestHandler() = default;

  // Runs `method` (never "watch") with `params` already checked by
  // ValidateParams (docs/protocol.md, "Methods"). Called on a server
  // thread, concurrently for different connections; may block (suspend
  // waits for I/O, `wait` for an event) but should return once
  // RequestCancelled() turns true. Returns the response's "result" or an
  // Error whose code and message go to the client. Must not throw; if it
  // does, the server answers with an error instead.
  virtual Result<nlohmann::json> Handle(const std::string& method, const nlohmann::json& params) = 0;

  // A watch snapshot: {"time_ms"?, "volumes": [Info + Stats merged, ...]}.
  // time_ms, if present, is when the counters were read (NowUnixMs());
  // otherwise the server adds it. The server adds the envelope. Called on a
  // server thread once per interval per watching connection whose client
  // has read the previous snapshot. May wait for a volume's table lock (a
  // resume holds it), never for the client's I/O.
  virtual nlohmann::json Snapshot() = 0;
};

// Inside RequestHandler::Handle: true once the client that sent the
// request has hung up or the server is stopping. A handler that blocks for
// long (`wait`) polls this, e.g. every 100 ms, and gives up with kBusy.
// False outside a server thread.
bool RequestCancelled();

}  // namespace udm::daemon
