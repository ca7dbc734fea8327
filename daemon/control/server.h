// ControlServer: udmd's control socket (docs/protocol.md). Listens on a
// Unix stream socket, checks each peer's credentials, and serves every
// connection on its own thread (at most max_connections at once), so that a
// handler blocked in suspend or `wait` delays only its own client.
#pragma once

#include <sys/types.h>

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <list>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <thread>

#include "control/connection.h"
#include "control/request_handler.h"
#include "control/socket_util.h"
#include "udm/error.h"

namespace udm::daemon {

struct ControlServerOptions {
  // When set, the socket is 0660 with this group and members of the group
  // may connect too; otherwise it is 0600 and only the daemon's uid and
  // root may.
  std::optional<gid_t> group;
  // Connections beyond this many get a `busy` error and are closed.
  size_t max_connections = 64;
};

struct ControlServerCounters {
  uint64_t connections_accepted = 0;
  uint64_t connections_refused = 0;  // bad credentials or too many connections
  uint64_t requests = 0;             // request lines read, good or bad
  uint64_t snapshots_sent = 0;
  uint64_t snapshots_dropped = 0;    // the client had not read the previous one
  uint64_t max_pending_bytes = 0;    // largest partly sent snapshot kept for a connection
  size_t open_connections = 0;
};

class ControlServer {
 public:
  // Binds `socket_path` and starts serving on the server's own threads. A
  // stale socket file (nothing answers on it) is replaced; if a server
  // answers, fails with kBusy; if the path is not a socket, with
  // kAlreadyExists. `handler` must outlive the server.
  static Result<std::unique_ptr<ControlServer>> Start(std::string socket_path,
                                                      RequestHandler& handler,
                                                      ControlServerOptions options = {});
  ~ControlServer();

  ControlServer(const ControlServer&) = delete;
  ControlServer& operator=(const ControlServer&) = delete;

  // Closes the listener and every connection, waits for their threads
  // (a Handle() call in progress must return; see RequestCancelled()) and
  // removes the socket file if it is still ours. Idempotent; any thread but
  // a server thread.
  void Stop();

  const std::string& socket_path() const { return socket_path_; }
  ControlServerCounters counters() const;

 private:
  struct Client {
    std::unique_ptr<ControlConnection> connection;
    std::thread thread;
  };

  ControlServer(std::string socket_path, RequestHandler& handler, ControlServerOptions options);
  Status Listen();
  // After bind: group, mode, listen(); records the file's identity.
  Status SetUpSocketFile(mode_t mode);
  void AcceptLoop();
  // Takes over an accepted socket: checks credentials and the limit, then
  // starts its thread.
  void Admit(SocketFd fd);
  bool PeerAllowed(const ucred& peer) const;
  // Joins the threads of connections that ended. Called with mu_ held.
  void ReapFinishedLocked();

  const std::string socket_path_;
  const ControlServerOptions options_;
  RequestHandler* const handler_;
  ControlServerStats stats_;
  std::atomic<bool> stopping_{false};
  SocketFd listen_fd_;
  SocketFd wake_read_, wake_write_;  // a pipe that ends AcceptLoop
  dev_t socket_dev_ = 0;             // identity of the socket file we bound
  ino_t socket_ino_ = 0;
  std::thread accept_thread_;

  // Lock order: mu_ is a leaf; no other lock is taken while holding it.
  mutable std::mutex mu_;
  std::list<Client> clients_;  // guarded by mu_
  bool stopped_ = false;       // guarded by mu_
};

}  // namespace udm::daemon
