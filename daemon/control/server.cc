// The control socket's listener: socket file setup (stale file replaced,
// live server refused, mode 0600/0660), the accept loop, the peer
// credential check and the connection limit.
#include "control/server.h"

#include <fcntl.h>
#include <poll.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>

#include "control/protocol.h"

namespace udm::daemon {

namespace {

// Makes `path` free for bind(): absent, or a socket nobody answers on
// (removed). A live server gives kBusy, any other file kAlreadyExists.
Status ClearStaleSocket(const std::string& path) {
  struct stat st{};
  if (::lstat(path.c_str(), &st) != 0) {
    if (errno == ENOENT) return {};
    return SysError(errno, fmt::format("stat {}", path));
  }
  if (!S_ISSOCK(st.st_mode)) {
    return Fail(ErrorCode::kAlreadyExists, EEXIST, "{} exists and is not a socket", path);
  }
  auto probe = ConnectUnix(path);
  if (probe) return Fail(ErrorCode::kBusy, EBUSY, "another server is listening on {}", path);
  if (probe.error().sys_errno != ECONNREFUSED && probe.error().sys_errno != ENOENT) {
    return std::unexpected(probe.error());
  }
  if (::unlink(path.c_str()) != 0 && errno != ENOENT) {
    return SysError(errno, fmt::format("remove stale socket {}", path));
  }
  return {};
}

}  // namespace

ControlServer::ControlServer(std::string socket_path, RequestHandler& handler,
                             ControlServerOptions options)
    : socket_path_(std::move(socket_path)), options_(options), handler_(&handler) {}

Result<std::unique_ptr<ControlServer>> ControlServer::Start(std::string socket_path,
                                                            RequestHandler& handler,
                                                            ControlServerOptions options) {
  std::unique_ptr<ControlServer> server(
      new ControlServer(std::move(socket_path), handler, options));
  if (Status ok = server->Listen(); !ok) return std::unexpected(ok.error());
  server->accept_thread_ = std::thread([s = server.get()] { s->AcceptLoop(); });
  return server;
}

ControlServer::~ControlServer() { Stop(); }

Status ControlServer::Listen() {
  const std::string& path = socket_path_;
  auto addr = UnixAddress(path);
  if (!addr) return std::unexpected(addr.error());
  int pipe_fds[2];
  if (::pipe2(pipe_fds, O_CLOEXEC | O_NONBLOCK) != 0) return SysError(errno, "pipe");
  wake_read_.Reset(pipe_fds[0]);
  wake_write_.Reset(pipe_fds[1]);
  if (Status ok = ClearStaleSocket(path); !ok) return ok;
  mode_t mode = options_.group ? 0660 : 0600;
  listen_fd_.Reset(::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0));
  if (!listen_fd_.valid()) return SysError(errno, "socket");
  ::fchmod(listen_fd_.get(), mode);  // narrows the window before chmod below
  if (::bind(listen_fd_.get(), reinterpret_cast<const sockaddr*>(&*addr), sizeof(*addr)) != 0) {
    if (errno == EADDRINUSE) return Fail(ErrorCode::kBusy, EBUSY, "{} is in use", path);
    return SysError(errno, fmt::format("bind {}", path));
  }
  Status ok = SetUpSocketFile(mode);
  if (!ok) ::unlink(path.c_str());
  return ok;
}

Status ControlServer::SetUpSocketFile(mode_t mode) {
  const std::string& path = socket_path_;
  if (options_.group && ::chown(path.c_str(), static_cast<uid_t>(-1), *options_.group) != 0) {
    return SysError(errno, fmt::format("chown {} to group {}", path, *options_.group));
  }
  if (::chmod(path.c_str(), mode) != 0) return SysError(errno, fmt::format("chmod {}", path));
  struct stat st{};
  if (::stat(path.c_str(), &st) != 0) return SysError(errno, fmt::format("stat {}", path));
  if (::listen(listen_fd_.get(), 64) != 0) return SysError(errno, fmt::format("listen {}", path));
  socket_dev_ = st.st_dev;
  socket_ino_ = st.st_ino;
  return {};
}

void ControlServer::AcceptLoop() {
  for (;;) {
    pollfd fds[2] = {{listen_fd_.get(), POLLIN, 0}, {wake_read_.get(), POLLIN, 0}};
    int rc = ::poll(fds, 2, 1000);
    if (rc < 0 && errno != EINTR) return;
    if (fds[1].revents != 0 || stopping_.load()) return;
    if (rc <= 0 || (fds[0].revents & POLLIN) == 0) {
      std::lock_guard lock(mu_);
      ReapFinishedLocked();
      continue;
    }
    int fd = ::accept4(listen_fd_.get(), nullptr, nullptr, SOCK_CLOEXEC);
    if (fd >= 0) {
      Admit(SocketFd(fd));
    } else if (errno == EMFILE || errno == ENFILE || errno == ENOBUFS || errno == ENOMEM) {
      ::poll(nullptr, 0, 100);  // out of descriptors: back off instead of spinning
    }
  }
}

bool ControlServer::PeerAllowed(const ucred& peer) const {
  if (peer.uid == 0 || peer.uid == ::geteuid()) return true;
  return options_.group && ProcessInGroup(peer.pid, peer.gid, *options_.group);
}

void ControlServer::Admit(SocketFd fd) {
  auto peer = PeerCredentials(fd.get());
  // A refusal is counted before it is sent: whoever reads it and then the
  // counters finds it there.
  if (!peer || !PeerAllowed(*peer)) {
    stats_.connections_refused.fetch_add(1, std::memory_order_relaxed);
    std::string who = peer ? fmt::format("uid {}", peer->uid) : "an unknown peer";
    SendSome(fd.get(), EncodeError(nullptr, PermissionDenied(fmt::format(
                                                "{} may not use {} (only uid {} and root)", who,
                                                socket_path_, ::geteuid()))));
    return;
  }
  std::lock_guard lock(mu_);
  ReapFinishedLocked();
  if (stopped_ || clients_.size() >= options_.max_connections) {
    // A connection still in the backlog when Stop() came is accepted here
    // after it: say the server is stopping, not that it is full.
    std::string why = stopped_ ? fmt::format("{} is stopping", socket_path_)
                               : fmt::format("too many connections (at most {})",
                                             options_.max_connections);
    stats_.connections_refused.fetch_add(1, std::memory_order_relaxed);
    SendSome(fd.get(), EncodeError(nullptr, Error{ErrorCode::kBusy, EBUSY, std::move(why)}));
    return;
  }
  stats_.connections_accepted.fetch_add(1, std::memory_order_relaxed);
  auto connection = std::make_unique<ControlConnection>(std::move(fd), handler_, &stats_, &stopping_);
  ControlConnection* raw = connection.get();
  clients_.push_back(Client{std::move(connection), std::thread([raw] { raw->Run(); })});
}

void ControlServer::ReapFinishedLocked() {
  for (auto it = clients_.begin(); it != clients_.end();) {
    if (!it->connection->done()) {
      ++it;
      continue;
    }
    it->thread.join();
    it = clients_.erase(it);
  }
}

void ControlServer::Stop() {
  {
    std::lock_guard lock(mu_);
    if (stopped_) return;
    stopped_ = true;
  }
  stopping_.store(true);
  if (wake_write_.valid()) (void)!::write(wake_write_.get(), "x", 1);
  if (accept_thread_.joinable()) accept_thread_.join();
  std::list<Client> clients;
  {
    std::lock_guard lock(mu_);
    clients.swap(clients_);
  }
  for (Client& c : clients) c.connection->Shutdown();
  for (Client& c : clients) c.thread.join();
  clients.clear();
  if (!listen_fd_.valid()) return;
  listen_fd_.Reset();
  struct stat st{};
  const std::string& path = socket_path_;
  if (::lstat(path.c_str(), &st) == 0 && st.st_dev == socket_dev_ && st.st_ino == socket_ino_) {
    ::unlink(path.c_str());
  }
}

ControlServerCounters ControlServer::counters() const {
  ControlServerCounters c;
  c.connections_accepted = stats_.connections_accepted.load(std::memory_order_relaxed);
  c.connections_refused = stats_.connections_refused.load(std::memory_order_relaxed);
  c.requests = stats_.requests.load(std::memory_order_relaxed);
  c.snapshots_sent = stats_.snapshots_sent.load(std::memory_order_relaxed);
  c.snapshots_dropped = stats_.snapshots_dropped.load(std::memory_order_relaxed);
  c.max_pending_bytes = stats_.max_pending_bytes.load(std::memory_order_relaxed);
  std::lock_guard lock(mu_);
  c.open_connections = 0;
  for (const Client& client : clients_) c.open_connections += client.connection->done() ? 0 : 1;
  return c;
}

}  // namespace udm::daemon
