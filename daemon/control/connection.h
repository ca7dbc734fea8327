// One accepted control connection, served on its own thread by the
// ControlServer: request lines answered in order, then, after `watch`, a
// stream of snapshots that never waits for a slow reader.
#pragma once

#include <atomic>
#include <chrono>
#include <cstdint>
#include <string>
#include <string_view>

#include <nlohmann/json.hpp>

#include "control/request_handler.h"
#include "control/socket_util.h"

namespace udm::daemon {

// Counters shared by the server and its connections (relaxed atomics).
struct ControlServerStats {
  std::atomic<uint64_t> connections_accepted{0};
  std::atomic<uint64_t> connections_refused{0};
  std::atomic<uint64_t> requests{0};
  std::atomic<uint64_t> snapshots_sent{0};
  std::atomic<uint64_t> snapshots_dropped{0};
  std::atomic<uint64_t> max_pending_bytes{0};  // largest partly sent watch line kept
};

class ControlConnection {
 public:
  // `handler`, `stats` and `stopping` must outlive the connection.
  ControlConnection(SocketFd fd, RequestHandler* handler, ControlServerStats* stats,
             const std::atomic<bool>* stopping);

  // The thread body: serves until the client closes, a frame is too long,
  // a send fails or the socket is shut down. Sets done() last.
  void Run();

  // Called by the server from another thread to end Run() promptly.
  void Shutdown();
  bool done() const { return done_.load(std::memory_order_acquire); }

  // True once the client hung up or the server is stopping.
  bool Cancelled() const;

 private:
  // Request mode; returns true when the connection turned into a watch.
  bool ServeRequests();
  // Handles one complete line; false ends request mode.
  bool HandleLine(std::string_view line);
  // Answers a checked `watch` request; sets watch_id_ once the answer is sent.
  void StartWatch(const nlohmann::json& id, const nlohmann::json& params);
  // Handle() with every exception turned into an Error.
  Result<nlohmann::json> CallHandler(const std::string& method, const nlohmann::json& params);
  bool Send(std::string_view line);

  // Watch mode (docs/protocol.md, "watch").
  void ServeWatch();
  // Sends one snapshot if the client has read the previous one; false
  // when the connection broke.
  bool SendSnapshot();
  // Sends more of the partly sent line; false when the connection broke.
  bool FlushPending();

  const SocketFd fd_;
  RequestHandler* const handler_;
  ControlServerStats* const stats_;
  const std::atomic<bool>* const stopping_;
  std::atomic<bool> done_{false};

  // Owned by the connection's thread.
  nlohmann::json watch_id_;  // null until the connection turns into a watch
  std::chrono::milliseconds watch_interval_{1000};
  std::string pending_;  // the unsent tail of at most one snapshot line
};

}  // namespace udm::daemon
