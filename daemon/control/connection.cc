// Serving one control connection: line framing with the 1 MiB limit,
// parameter checks, dispatch to the RequestHandler, and the watch stream
// that drops snapshots instead of queueing them.
#include "control/connection.h"

#include <poll.h>
#include <sys/socket.h>

#include <algorithm>
#include <cerrno>

#include "control/params.h"
#include "control/protocol.h"

namespace udm::daemon {

using nlohmann::json;
using Clock = std::chrono::steady_clock;

namespace {

constexpr size_t kReadChunk = 64 * 1024;

// The connection served by the calling thread, for RequestCancelled().
thread_local const ControlConnection* tls_connection = nullptr;

bool IsBlank(std::string_view line) {
  return std::all_of(line.begin(), line.end(),
                     [](char c) { return c == ' ' || c == '\t' || c == '\r'; });
}

void RaiseMax(std::atomic<uint64_t>& max, uint64_t value) {
  uint64_t seen = max.load(std::memory_order_relaxed);
  while (value > seen && !max.compare_exchange_weak(seen, value, std::memory_order_relaxed)) {
  }
}

}  // namespace

bool RequestCancelled() {
  return tls_connection != nullptr && tls_connection->Cancelled();
}

ControlConnection::ControlConnection(SocketFd fd, RequestHandler* handler, ControlServerStats* stats,
                       const std::atomic<bool>* stopping)
    : fd_(std::move(fd)), handler_(handler), stats_(stats), stopping_(stopping) {}

void ControlConnection::Run() {
  tls_connection = this;
  if (ServeRequests()) ServeWatch();
  tls_connection = nullptr;
  done_.store(true, std::memory_order_release);
}

void ControlConnection::Shutdown() { ::shutdown(fd_.get(), SHUT_RDWR); }

bool ControlConnection::Cancelled() const {
  if (stopping_->load(std::memory_order_relaxed)) return true;
  pollfd p{fd_.get(), 0, 0};
  return ::poll(&p, 1, 0) > 0 && (p.revents & (POLLHUP | POLLERR | POLLNVAL)) != 0;
}

bool ControlConnection::Send(std::string_view line) { return SendAll(fd_.get(), line).has_value(); }

bool ControlConnection::ServeRequests() {
  std::string buf;
  size_t start = 0;    // first byte of the current line in buf
  size_t scanned = 0;  // bytes of the current line known to hold no '\n'
  char chunk[kReadChunk];
  for (;;) {
    size_t nl;
    while ((nl = buf.find('\n', start + scanned)) != std::string::npos) {
      if (nl - start > kMaxFrameBytes) break;
      std::string_view line(buf.data() + start, nl - start);
      if (!HandleLine(line)) return !watch_id_.is_null();  // ids are never null
      start = nl + 1;
      scanned = 0;
    }
    scanned = buf.size() - start;
    if (scanned > kMaxFrameBytes) {
      Send(EncodeError(nullptr, ProtocolError(fmt::format(
                                    "frame longer than {} bytes; closing the connection",
                                    kMaxFrameBytes))));
      return false;
    }
    buf.erase(0, start);
    start = 0;
    ssize_t n = ::recv(fd_.get(), chunk, sizeof(chunk), 0);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) {
      if (n == 0 && !IsBlank(buf)) {
        Send(EncodeError(nullptr, ProtocolError("incomplete frame: the stream ended before '\\n'")));
      }
      return false;
    }
    buf.append(chunk, static_cast<size_t>(n));
  }
}

bool ControlConnection::HandleLine(std::string_view line) {
  if (IsBlank(line)) return true;
  stats_->requests.fetch_add(1, std::memory_order_relaxed);
  auto request = ParseRequest(line);
  if (!request) return Send(EncodeError(request.error().id, request.error().error));
  Status ok = ValidateParams(request->method, request->params);
  if (!ok) return Send(EncodeError(request->id, ok.error()));
  if (request->method == "watch") {
    StartWatch(request->id, request->params);
    return false;  // no further requests are read on a watching connection
  }
  Result<json> result = CallHandler(request->method, request->params);
  return Send(result ? EncodeResult(request->id, *result) : EncodeError(request->id, result.error()));
}

void ControlConnection::StartWatch(const json& id, const json& params) {
  watch_interval_ = std::chrono::milliseconds(UintParam(params, "interval_ms", 1000));
  if (Send(EncodeResult(id, json{{"watching", true}}))) watch_id_ = id;
}

Result<json> ControlConnection::CallHandler(const std::string& method, const json& params) {
  try {
    return handler_->Handle(method, params);
  } catch (const json::exception& e) {
    return InvalidArgument("{}: {}", method, e.what());
  } catch (const std::exception& e) {
    return Fail(ErrorCode::kIo, EIO, "{}: internal error: {}", method, e.what());
  } catch (...) {
    return Fail(ErrorCode::kIo, EIO, "{}: internal error", method);
  }
}

void ControlConnection::ServeWatch() {
  auto next = Clock::now() + watch_interval_;
  char scratch[4096];
  for (;;) {
    auto wait = std::chrono::duration_cast<std::chrono::milliseconds>(next - Clock::now());
    pollfd p{fd_.get(), static_cast<short>(POLLIN | (pending_.empty() ? 0 : POLLOUT)), 0};
    int rc = ::poll(&p, 1, static_cast<int>(std::max<int64_t>(0, wait.count())));
    if (rc < 0 && errno != EINTR) return;
    if (rc > 0 && (p.revents & (POLLERR | POLLNVAL))) return;
    if (rc > 0 && (p.revents & (POLLIN | POLLHUP))) {
      // Requests are not read on a watching connection; input is dropped.
      ssize_t n = ::recv(fd_.get(), scratch, sizeof(scratch), MSG_DONTWAIT);
      if (n == 0 || (n < 0 && errno != EAGAIN && errno != EINTR)) return;
    }
    if (rc > 0 && (p.revents & POLLOUT) && !FlushPending()) return;
    auto now = Clock::now();
    if (now < next) continue;
    if (!SendSnapshot()) return;
    next += watch_interval_;
    if (next <= now) next = now + watch_interval_;
  }
}

bool ControlConnection::SendSnapshot() {
  auto unread = UnreadBytes(fd_.get());
  if (!pending_.empty() || (unread && *unread > 0)) {
    stats_->snapshots_dropped.fetch_add(1, std::memory_order_relaxed);
    return true;
  }
  json snapshot;
  try {
    snapshot = handler_->Snapshot();
  } catch (const std::exception&) {
    snapshot = nullptr;
  }
  if (!snapshot.is_object()) snapshot = json{{"volumes", json::array()}};
  if (!snapshot.contains("time_ms")) snapshot["time_ms"] = NowUnixMs();
  std::string line = EncodeLine(json{{"id", watch_id_}, {"snapshot", std::move(snapshot)}});
  auto sent = SendSome(fd_.get(), line);
  if (!sent) return false;
  if (*sent == 0) {
    stats_->snapshots_dropped.fetch_add(1, std::memory_order_relaxed);
    return true;
  }
  stats_->snapshots_sent.fetch_add(1, std::memory_order_relaxed);
  if (*sent < line.size()) {
    pending_ = line.substr(*sent);
    RaiseMax(stats_->max_pending_bytes, pending_.size());
  }
  return true;
}

bool ControlConnection::FlushPending() {
  auto sent = SendSome(fd_.get(), pending_);
  if (!sent) return false;
  pending_.erase(0, *sent);
  return true;
}

}  // namespace udm::daemon
