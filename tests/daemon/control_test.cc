// Tests for the control protocol (framing, parameter checks), the control
// server (ordering, bad frames, credentials, socket file, watch back-pressure)
// and the udmsetup binary run against the server with a fake handler.
#include <fcntl.h>
#include <grp.h>
#include <poll.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <csignal>
#include <cstdlib>
#include <cstring>
#include <functional>
#include <filesystem>
#include <fstream>
#include <map>
#include <mutex>
#include <random>
#include <string>
#include <thread>
#include <vector>

#include "control/client.h"
#include "control/params.h"
#include "control/protocol.h"
#include "control/server.h"
#include "control/udmsetup_args.h"
#include "control/udmsetup_format.h"
#include "control/udmsetup_table.h"

namespace udm::daemon {
namespace {

using json = nlohmann::json;
using ::testing::HasSubstr;
using ::testing::StartsWith;
using namespace std::chrono_literals;
namespace fs = std::filesystem;

// A fresh directory under /tmp, removed with everything in it.
class TempDir {
 public:
  TempDir() {
    char tmpl[] = "/tmp/udm-control-XXXXXX";
    path_ = ::mkdtemp(tmpl);
  }
  ~TempDir() { fs::remove_all(path_); }
  const std::string& path() const { return path_; }
  std::string operator/(const std::string& name) const { return path_ + "/" + name; }

 private:
  std::string path_;
};

// Records every call and answers with canned results (default: {}).
class FakeHandler : public RequestHandler {
 public:
  struct Call {
    std::string method;
    json params;
  };

  Result<json> Handle(const std::string& method, const json& params) override {
    std::function<Result<json>(const json&)> hook;
    {
      std::lock_guard lock(mu_);
      calls_.push_back({method, params});
      if (auto it = hooks_.find(method); it != hooks_.end()) hook = it->second;
    }
    if (hook) return hook(params);
    std::lock_guard lock(mu_);
    if (auto it = canned_.find(method); it != canned_.end()) return it->second;
    if (method == "version") return json{{"version", "0.1.0"}, {"protocol", 1}};
    return json::object();
  }

  // Each snapshot carries its sequence number (1, 2, ...), so a reader can
  // tell when it was made relative to snapshots().
  json Snapshot() override {
    int seq = snapshots_.fetch_add(1) + 1;
    json s{{"seq", seq}, {"volumes", json::array({{{"name", "v"}, {"pad", std::string(snapshot_pad_, 'x')}}})}};
    if (const int64_t t = snapshot_time_ms_.load(); t != 0) s["time_ms"] = t;
    return s;
  }

  void Answer(const std::string& method, Result<json> result) {
    std::lock_guard lock(mu_);
    canned_[method] = std::move(result);
  }
  void Hook(const std::string& method, std::function<Result<json>(const json&)> hook) {
    std::lock_guard lock(mu_);
    hooks_[method] = std::move(hook);
  }
  std::vector<Call> calls() const {
    std::lock_guard lock(mu_);
    return calls_;
  }
  int snapshots() const { return snapshots_.load(); }
  void set_snapshot_pad(size_t bytes) { snapshot_pad_ = bytes; }
  void set_snapshot_time_ms(int64_t t) { snapshot_time_ms_ = t; }  // 0: the server's

 private:
  mutable std::mutex mu_;
  std::vector<Call> calls_;                // guarded by mu_
  std::map<std::string, Result<json>> canned_;  // guarded by mu_
  std::map<std::string, std::function<Result<json>(const json&)>> hooks_;  // guarded by mu_
  std::atomic<int> snapshots_{0};
  size_t snapshot_pad_ = 0;
  std::atomic<int64_t> snapshot_time_ms_{0};
};

// A raw client socket for sending arbitrary bytes.
class RawConn {
 public:
  explicit RawConn(const std::string& path) : fd_(ConnectUnix(path).value()) {}
  void Send(std::string_view bytes) { ASSERT_TRUE(SendAll(fd_.get(), bytes).has_value()); }
  // For writes the server may cut short by closing.
  void SendUntilClosed(std::string_view bytes) { (void)SendAll(fd_.get(), bytes); }
  // The next line, or "<eof>" / "<timeout>".
  std::string ReadLine(std::chrono::milliseconds timeout = 5s) {
    auto deadline = std::chrono::steady_clock::now() + timeout;
    for (;;) {
      if (size_t nl = buf_.find('\n'); nl != std::string::npos) {
        std::string line = buf_.substr(0, nl);
        buf_.erase(0, nl + 1);
        return line;
      }
      auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - std::chrono::steady_clock::now());
      pollfd p{fd_.get(), POLLIN, 0};
      if (left.count() <= 0 || ::poll(&p, 1, static_cast<int>(left.count())) <= 0) return "<timeout>";
      char chunk[65536];
      ssize_t n = ::recv(fd_.get(), chunk, sizeof(chunk), 0);
      if (n <= 0) return "<eof>";
      buf_.append(chunk, static_cast<size_t>(n));
    }
  }
  json ReadJson() { return json::parse(ReadLine(), nullptr, false); }
  int fd() const { return fd_.get(); }

 private:
  SocketFd fd_;
  std::string buf_;
};

// ---------------------------------------------------------------- protocol

TEST(ProtocolTest, ParsesRequestsWithAndWithoutParams) {
  auto r = ParseRequest(R"({"id": 7, "method": "ls"})");
  ASSERT_TRUE(r.has_value());
  EXPECT_EQ(r->id, 7);
  EXPECT_EQ(r->method, "ls");
  EXPECT_EQ(r->params, json::object());
  r = ParseRequest("{\"id\": \"a\", \"method\": \"info\", \"params\": {\"name\": \"v\"}}\r");
  ASSERT_TRUE(r.has_value());
  EXPECT_EQ(r->id, "a");
  EXPECT_EQ(r->params["name"], "v");
}

TEST(ProtocolTest, MalformedFramesGetProtocolErrorsNamingTheProblem) {
  struct Case {
    std::string line;
    json id;
    std::string message;
  };
  const Case cases[] = {
      {"hello", nullptr, "invalid JSON"},
      {"[1, 2]", nullptr, "not an object"},
      {R"({"method": "ls"})", nullptr, "no \"id\""},
      {R"({"id": true, "method": "ls"})", nullptr, "\"id\" is a boolean"},
      {R"({"id": 3})", 3, "no \"method\""},
      {R"({"id": 3, "method": 5})", 3, "\"method\" is a number"},
      {R"({"id": 3, "method": "ls", "params": [1]})", 3, "\"params\" is a array"},
      {"{\"id\": 1, \"method\": \"\xff\xfe\"}", nullptr, "invalid JSON"},
      {std::string(100, '[') + std::string(100, ']'), nullptr, "deeper than 32"},
  };
  for (const Case& c : cases) {
    auto r = ParseRequest(c.line);
    ASSERT_FALSE(r.has_value()) << c.line;
    EXPECT_EQ(r.error().id, c.id) << c.line;
    EXPECT_EQ(WireErrorCode(r.error().error), "protocol") << c.line;
    EXPECT_THAT(r.error().error.message, HasSubstr(c.message)) << c.line;
  }
}

TEST(ProtocolTest, ErrorCodesRoundTripOverTheWire) {
  for (const char* code : {"invalid_argument", "not_found", "already_exists", "busy", "io",
                           "unsupported", "permission_denied", "protocol"}) {
    Error e = ErrorFromWire(code, "m");
    EXPECT_EQ(WireErrorCode(e), code);
    json line = json::parse(EncodeError(1, e));
    EXPECT_EQ(line["error"]["code"], code);
    EXPECT_EQ(line["error"]["message"], "m");
  }
  EXPECT_EQ(WireErrorCode(SysError(EACCES, "open /x").error()), "permission_denied");
  EXPECT_EQ(ErrorFromWire("weird", "m").code, ErrorCode::kIo);
  // Invalid UTF-8 in a result cannot break the line.
  std::string line = EncodeResult(1, json("a\xff" "b"));
  EXPECT_TRUE(json::accept(line));
  EXPECT_EQ(line.back(), '\n');
}

TEST(ProtocolTest, VolumeNames) {
  EXPECT_TRUE(ValidateVolumeName("vol-1.img_x").has_value());
  EXPECT_TRUE(ValidateVolumeName(std::string(127, 'a')).has_value());
  EXPECT_TRUE(ValidateVolumeName("caf\xc3\xa9").has_value());
  for (std::string bad : {std::string(), std::string(128, 'a'), std::string("."), std::string(".."),
                          std::string("a/b"), std::string("a\nb"), std::string("a\0b", 3),
                          std::string("a\x7f"), std::string("\xff")}) {
    auto r = ValidateVolumeName(bad);
    ASSERT_FALSE(r.has_value()) << bad;
    EXPECT_THAT(r.error().message, StartsWith("volume name"));
  }
}

TEST(ProtocolTest, ParamsAreCheckedAgainstTheMethodTable) {
  struct Case {
    const char* method;
    json params;
    const char* error;  // nullptr: accepted
  };
  const Case cases[] = {
      {"version", json::object(), nullptr},
      {"create", {{"name", "v"}, {"table", "0 8 zero"}, {"read_only", true}, {"barriers", "ordered"}}, nullptr},
      {"create", {{"name", "v"}, {"table", nullptr}}, nullptr},
      {"info", json::object(), nullptr},
      {"message", {{"name", "v"}, {"sector", 0}, {"args", {"a", "b"}}}, nullptr},
      {"frobnicate", json::object(), "unknown method 'frobnicate'"},
      {"create", {{"table", "x"}}, "create: missing parameter 'name'"},
      {"create", {{"name", "v"}, {"colour", 1}}, "create: unknown parameter 'colour'"},
      {"create", {{"name", "v"}, {"barriers", "sometimes"}}, "create: barriers: expected 'flush' or 'ordered'"},
      {"create", {{"name", "v"}, {"read_only", "yes"}}, "create: read_only: expected true or false"},
      {"create", {{"name", "v"}, {"uuid", "a b"}}, "create: uuid: uuid 'a b' contains whitespace"},
      {"rename", {{"name", "v"}, {"new_name", "../x"}}, "rename: new_name: volume name '../x' contains '/'"},
      {"message", {{"name", "v"}, {"sector", -1}, {"args", {"a"}}}, "message: sector: expected a non-negative integer, got -1"},
      {"message", {{"name", "v"}, {"sector", 0}, {"args", json::array()}}, "message: args: must not be empty"},
      {"message", {{"name", "v"}, {"sector", 0}, {"args", {1}}}, "message: args: element 0 is a number"},
      {"events", {{"name", "v"}, {"limit", 0}}, "events: limit: must be greater than 0"},
      {"wait", {{"name", "v"}, {"event", 1e30}}, "wait: event: expected a non-negative integer"},
      {"watch", {{"interval_ms", 10}}, "watch: interval_ms: 10 is outside 50-60000"},
  };
  for (const Case& c : cases) {
    Status s = ValidateParams(c.method, c.params);
    if (c.error == nullptr) {
      EXPECT_TRUE(s.has_value()) << c.method << " " << c.params << ": " << s.error().message;
    } else {
      ASSERT_FALSE(s.has_value()) << c.method << " " << c.params;
      EXPECT_THAT(s.error().message, StartsWith(c.error));
    }
  }
  EXPECT_EQ(ValidateParams("nope", json::object()).error().code, ErrorCode::kUnsupported);
}

TEST(ProtocolTest, RandomBytesNeverCrashTheParser) {
  std::mt19937 rng(20261125);
  const std::string seed = R"({"id": 1, "method": "create", "params": {"name": "v", "table": "0 8 zero"}})";
  for (int i = 0; i < 20000; ++i) {
    std::string line = seed;
    int edits = 1 + static_cast<int>(rng() % 8);
    for (int k = 0; k < edits; ++k) line[rng() % line.size()] = static_cast<char>(rng() % 256);
    if (i % 2 == 0) line.resize(rng() % (line.size() + 1));
    auto r = ParseRequest(line);
    if (r) (void)ValidateParams(r->method, r->params);
    else EXPECT_TRUE(json::accept(EncodeError(r.error().id, r.error().error)));
  }
}

// ------------------------------------------------------------------ server

class ControlServerTest : public ::testing::Test {
 protected:
  void SetUp() override { StartServer(); }

  void StartServer(ControlServerOptions options = {}) {
    auto server = ControlServer::Start(socket_, handler_, options);
    ASSERT_TRUE(server.has_value()) << server.error().message;
    server_ = std::move(*server);
  }

  ControlClient Client() {
    auto client = ControlClient::Connect(socket_);
    EXPECT_TRUE(client.has_value()) << client.error().message;
    client->set_timeout_ms(5000);
    return std::move(*client);
  }

  TempDir dir_;
  std::string socket_ = dir_ / "udm.sock";
  FakeHandler handler_;
  std::unique_ptr<ControlServer> server_;
};

TEST_F(ControlServerTest, PipelinedRequestsAreAnsweredInOrder) {
  handler_.Hook("info", [](const json& p) -> Result<json> { return json{{"name", p["name"]}}; });
  RawConn conn(socket_);
  std::string batch;
  for (int i = 0; i < 50; ++i) {
    batch += EncodeRequest(i % 2 ? json(i) : json("s" + std::to_string(i)), "info",
                           {{"name", "v" + std::to_string(i)}});
  }
  conn.Send(batch);
  for (int i = 0; i < 50; ++i) {
    json r = conn.ReadJson();
    EXPECT_EQ(r["id"], i % 2 ? json(i) : json("s" + std::to_string(i)));
    EXPECT_EQ(r["result"]["name"], "v" + std::to_string(i));
  }
  auto calls = handler_.calls();
  ASSERT_EQ(calls.size(), 50u);
  EXPECT_EQ(calls[49].params["name"], "v49");
}

TEST_F(ControlServerTest, ErrorsKeepTheirCodeAndMessage) {
  handler_.Answer("stats", Fail(ErrorCode::kNotFound, ENOENT, "volume 'x' not found"));
  ControlClient client = Client();
  auto r = client.Call("stats", {{"name", "x"}});
  ASSERT_FALSE(r.has_value());
  EXPECT_EQ(r.error().code, ErrorCode::kNotFound);
  EXPECT_EQ(r.error().message, "volume 'x' not found");
  // Bad params and unknown methods never reach the handler.
  r = client.Call("create", {{"name", "a/b"}});
  ASSERT_FALSE(r.has_value());
  EXPECT_EQ(r.error().code, ErrorCode::kInvalidArgument);
  EXPECT_EQ(r.error().message, "create: name: volume name 'a/b' contains '/'");
  r = client.Call("frob");
  ASSERT_FALSE(r.has_value());
  EXPECT_EQ(r.error().code, ErrorCode::kUnsupported);
  EXPECT_EQ(handler_.calls().size(), 1u);
  // A handler that throws gets an error, and the server keeps serving.
  handler_.Hook("deps", [](const json& p) -> Result<json> { return json{{"n", p.at("missing")}}; });
  r = client.Call("deps", {{"name", "v"}});
  ASSERT_FALSE(r.has_value());
  EXPECT_THAT(r.error().message, StartsWith("deps: "));
  EXPECT_TRUE(client.Call("version").has_value());
}

TEST_F(ControlServerTest, GarbageGetsErrorsAndTheConnectionStaysOpen) {
  RawConn conn(socket_);
  const std::string garbage[] = {"nonsense", "{\"id\": 1", "42", "\"str\"", "{\"id\": 2}",
                                 "{\"id\": [1], \"method\": \"ls\"}", "\xc3\x28\xa0\xa1",
                                 "{\"id\": 3, \"method\": \"ls\", \"params\": 5}"};
  for (const std::string& g : garbage) {
    conn.Send(g + "\n");
    json r = conn.ReadJson();
    ASSERT_TRUE(r.is_object()) << g;
    EXPECT_EQ(r["error"]["code"], "protocol") << g;
  }
  conn.Send("\n  \n" + EncodeRequest(9, "ls", json::object()));  // blank lines are skipped
  EXPECT_EQ(conn.ReadJson()["id"], 9);
}

TEST_F(ControlServerTest, RandomBytesNeverStopTheServer) {
  std::mt19937 rng(42);
  for (int i = 0; i < 100; ++i) {
    RawConn conn(socket_);
    std::string bytes(1 + rng() % 4096, '\0');
    for (char& c : bytes) c = static_cast<char>(rng() % 256);
    conn.Send(bytes + "\n" + EncodeRequest("probe", "version", json::object()));
    std::string line;
    do {
      line = conn.ReadLine();
      ASSERT_NE(line, "<timeout>");
      ASSERT_NE(line, "<eof>");
    } while (json::parse(line, nullptr, false).value("id", json()) != "probe");
  }
  EXPECT_TRUE(Client().Call("version").has_value());
}

TEST_F(ControlServerTest, OversizedFrameIsRefusedAndClosedOthersContinue) {
  RawConn other(socket_);
  RawConn conn(socket_);
  conn.SendUntilClosed(std::string(kMaxFrameBytes + 10, 'a'));
  json r = conn.ReadJson();
  EXPECT_TRUE(r["id"].is_null());
  EXPECT_EQ(r["error"]["code"], "protocol");
  EXPECT_THAT(r["error"]["message"].get<std::string>(), HasSubstr("longer than 1048576"));
  EXPECT_EQ(conn.ReadLine(), "<eof>");
  other.Send(EncodeRequest(1, "version", json::object()));
  EXPECT_EQ(other.ReadJson()["result"]["protocol"], 1);
  // A line of exactly the limit is still a frame (here: bad JSON, not closed).
  conn = RawConn(socket_);
  conn.Send(std::string(kMaxFrameBytes - 1, ' ') + "x\n" + EncodeRequest(2, "ls", json::object()));
  EXPECT_EQ(conn.ReadJson()["error"]["code"], "protocol");
  EXPECT_EQ(conn.ReadJson()["id"], 2);
}

TEST_F(ControlServerTest, UnterminatedFrameAtEndOfStreamGetsAnError) {
  RawConn conn(socket_);
  conn.Send(R"({"id": 1, "method": "ls"})");
  ::shutdown(conn.fd(), SHUT_WR);
  EXPECT_THAT(conn.ReadJson()["error"]["message"].get<std::string>(), HasSubstr("incomplete frame"));
  EXPECT_EQ(conn.ReadLine(), "<eof>");
}

TEST_F(ControlServerTest, SocketFileIsPrivateAndRemovedOnStop) {
  struct stat st{};
  ASSERT_EQ(::stat(socket_.c_str(), &st), 0);
  EXPECT_TRUE(S_ISSOCK(st.st_mode));
  EXPECT_EQ(st.st_mode & 0777, 0600u);
  RawConn conn(socket_);
  server_->Stop();
  // The connection was accepted before Stop (closed: EOF) or was still in
  // the backlog and accepted after it (told the server is stopping).
  const std::string line = conn.ReadLine();
  if (line != "<eof>") {
    EXPECT_THAT(line, HasSubstr("is stopping")) << line;
    EXPECT_EQ(conn.ReadLine(), "<eof>");
  }
  EXPECT_FALSE(fs::exists(socket_));
}

TEST_F(ControlServerTest, GroupSocketIs0660WithTheGroup) {
  server_.reset();
  StartServer(ControlServerOptions{.group = 4321});
  struct stat st{};
  ASSERT_EQ(::stat(socket_.c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0660u);
  if (::geteuid() == 0) {
    EXPECT_EQ(st.st_gid, 4321u);
  }
}

TEST_F(ControlServerTest, StaleSocketIsReplacedLiveOneIsRefused) {
  auto second = ControlServer::Start(socket_, handler_);
  ASSERT_FALSE(second.has_value());
  EXPECT_EQ(second.error().code, ErrorCode::kBusy);
  EXPECT_TRUE(Client().Call("version").has_value());  // the first one is untouched

  std::string stale = dir_ / "stale.sock";
  {
    SocketFd fd(::socket(AF_UNIX, SOCK_STREAM, 0));
    sockaddr_un addr = UnixAddress(stale).value();
    ASSERT_EQ(::bind(fd.get(), reinterpret_cast<sockaddr*>(&addr), sizeof(addr)), 0);
  }  // closed without unlinking: nothing answers any more
  auto replaced = ControlServer::Start(stale, handler_);
  ASSERT_TRUE(replaced.has_value()) << replaced.error().message;
  EXPECT_TRUE(ControlClient::Connect(stale)->Call("version").has_value());

  std::string file = dir_ / "file";
  std::ofstream(file) << "x";
  auto refused = ControlServer::Start(file, handler_);
  ASSERT_FALSE(refused.has_value());
  EXPECT_EQ(refused.error().code, ErrorCode::kAlreadyExists);
}

// Runs `fn` in a child process as uid 65534 (and `gid`); returns its exit status.
template <typename Fn>
int RunAsNobody(gid_t gid, Fn fn) {
  pid_t pid = ::fork();
  if (pid == 0) {
    if (::setgroups(0, nullptr) != 0 || ::setresgid(gid, gid, gid) != 0 ||
        ::setresuid(65534, 65534, 65534) != 0) {
      ::_exit(90);
    }
    ::_exit(fn());
  }
  int status = 0;
  ::waitpid(pid, &status, 0);
  return WIFEXITED(status) ? WEXITSTATUS(status) : 99;
}

// In a child: connects to `path`, sends a version request, and exits 0 if
// the answer holds `expect`, 1 if not, 2 if it cannot connect.
int ProbeAs(const char* path, const char* expect) {
  int fd = ::socket(AF_UNIX, SOCK_STREAM, 0);
  sockaddr_un addr{};
  addr.sun_family = AF_UNIX;
  std::strncpy(addr.sun_path, path, sizeof(addr.sun_path) - 1);
  if (::connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) != 0) return 2;
  const char req[] = "{\"id\":1,\"method\":\"version\"}\n";
  (void)::send(fd, req, sizeof(req) - 1, MSG_NOSIGNAL);  // a refused peer may be closed already
  char buf[512] = {};
  size_t got = 0;
  ssize_t n;
  while (got < sizeof(buf) - 1 && (n = ::read(fd, buf + got, sizeof(buf) - 1 - got)) > 0) {
    got += static_cast<size_t>(n);
    if (std::memchr(buf, '\n', got) != nullptr) break;
  }
  return std::strstr(buf, expect) != nullptr ? 0 : 1;
}

TEST_F(ControlServerTest, OtherUsersArePermissionDenied) {
  if (::geteuid() != 0) GTEST_SKIP() << "needs root to run a client as another uid";
  ASSERT_EQ(::chmod(dir_.path().c_str(), 0755), 0);
  ASSERT_EQ(::chmod(socket_.c_str(), 0666), 0);  // let the connect through to the credential check
  const char* path = socket_.c_str();
  EXPECT_EQ(RunAsNobody(65534, [&] { return ProbeAs(path, "\"permission_denied\""); }), 0);
  EXPECT_EQ(server_->counters().connections_refused, 1u);
  // A member of the configured group may connect to the 0660 socket.
  server_.reset();
  StartServer(ControlServerOptions{.group = 4321});
  EXPECT_EQ(RunAsNobody(4321, [&] { return ProbeAs(path, "\"protocol\":1"); }), 0);
  EXPECT_EQ(RunAsNobody(65534, [&] { return ProbeAs(path, "x"); }), 2);  // 0660: not even connect
  EXPECT_EQ(handler_.calls().size(), 1u);  // only the group member's request got through
}

TEST_F(ControlServerTest, ConnectionsBeyondTheLimitGetBusy) {
  server_.reset();
  ControlServerOptions options;
  options.max_connections = 2;
  StartServer(options);
  auto a = std::make_unique<RawConn>(socket_);
  RawConn b(socket_);
  a->Send(EncodeRequest(1, "version", json::object()));
  b.Send(EncodeRequest(1, "version", json::object()));
  ASSERT_EQ(a->ReadJson()["id"], 1);
  ASSERT_EQ(b.ReadJson()["id"], 1);
  RawConn c(socket_);
  EXPECT_EQ(c.ReadJson()["error"]["code"], "busy");
  EXPECT_EQ(c.ReadLine(), "<eof>");
  a.reset();
  std::this_thread::sleep_for(100ms);
  EXPECT_TRUE(Client().Call("version").has_value());
}

TEST_F(ControlServerTest, BlockedHandlerSeesTheClientHangUp) {
  std::atomic<bool> cancelled{false};
  handler_.Hook("wait", [&](const json&) -> Result<json> {
    for (int i = 0; i < 500 && !RequestCancelled(); ++i) std::this_thread::sleep_for(10ms);
    cancelled = RequestCancelled();
    return Fail(ErrorCode::kBusy, EBUSY, "cancelled");
  });
  {
    RawConn conn(socket_);
    conn.Send(EncodeRequest(1, "wait", {{"name", "v"}}));
    std::this_thread::sleep_for(50ms);
  }
  for (int i = 0; i < 200 && !cancelled; ++i) std::this_thread::sleep_for(10ms);
  EXPECT_TRUE(cancelled);
  EXPECT_FALSE(RequestCancelled());  // not a server thread
  // Stop() releases a handler blocked the same way.
  cancelled = false;
  RawConn conn(socket_);
  conn.Send(EncodeRequest(2, "wait", {{"name", "v"}}));
  std::this_thread::sleep_for(50ms);
  auto start = std::chrono::steady_clock::now();
  server_->Stop();
  EXPECT_LT(std::chrono::steady_clock::now() - start, 1s);
  EXPECT_TRUE(cancelled);
}

// --------------------------------------------------------------------- watch

TEST_F(ControlServerTest, WatchSendsSnapshotsAtTheInterval) {
  ControlClient client = Client();
  auto r = client.Call("watch", {{"interval_ms", 100}});
  ASSERT_TRUE(r.has_value()) << r.error().message;
  EXPECT_EQ(*r, json({{"watching", true}}));
  auto start = std::chrono::steady_clock::now();
  int64_t last_ms = 0;
  for (int i = 0; i < 5; ++i) {
    auto snap = client.ReadSnapshot(2000);
    ASSERT_TRUE(snap.has_value()) << snap.error().message;
    EXPECT_EQ((*snap)["volumes"][0]["name"], "v");
    EXPECT_GT((*snap)["time_ms"].get<int64_t>(), last_ms);
    last_ms = (*snap)["time_ms"].get<int64_t>();
  }
  auto elapsed = std::chrono::steady_clock::now() - start;
  EXPECT_GE(elapsed, 400ms);
  EXPECT_LT(elapsed, 1500ms);
}

// A handler that timed its own snapshot (when it read the counters) keeps
// that time; the server does not overwrite it.
TEST_F(ControlServerTest, WatchKeepsTheTimeTheHandlerGave) {
  handler_.set_snapshot_time_ms(42);
  ControlClient client = Client();
  ASSERT_TRUE(client.Call("watch", {{"interval_ms", 100}}).has_value());
  auto snap = client.ReadSnapshot(2000);
  ASSERT_TRUE(snap.has_value()) << snap.error().message;
  EXPECT_EQ((*snap)["time_ms"], 42);
}

TEST_F(ControlServerTest, BadWatchIntervalKeepsTheConnectionInRequestMode) {
  ControlClient client = Client();
  auto r = client.Call("watch", {{"interval_ms", 5}});
  ASSERT_FALSE(r.has_value());
  EXPECT_EQ(r.error().code, ErrorCode::kInvalidArgument);
  EXPECT_TRUE(client.Call("version").has_value());
}

TEST_F(ControlServerTest, SlowWatcherCostsNoMemoryAndBlocksNobody) {
  handler_.set_snapshot_pad(16 * 1024);
  RawConn watcher(socket_);
  watcher.Send(EncodeRequest("w", "watch", {{"interval_ms", 50}}));
  ASSERT_EQ(watcher.ReadJson()["result"]["watching"], true);
  ControlClient other = Client();
  for (int i = 0; i < 10; ++i) {  // 2 s of not reading the watch
    auto start = std::chrono::steady_clock::now();
    EXPECT_TRUE(other.Call("version").has_value());
    EXPECT_LT(std::chrono::steady_clock::now() - start, 500ms);  // generous for loaded CI
    std::this_thread::sleep_for(200ms);
  }
  ControlServerCounters c = server_->counters();
  EXPECT_LE(handler_.snapshots(), 2);  // later ticks see the unread line and skip Snapshot()
  EXPECT_GE(c.snapshots_dropped, 30u);
  EXPECT_EQ(c.max_pending_bytes, 0u);
  // The reader catches up. Every snapshot made so far was made while it read
  // nothing, so the lines carrying one of them are the backlog: it must be
  // the one whole line the socket held, however many ticks passed. Then the
  // stream resumes with later snapshots. Telling backlog from stream by the
  // snapshot's sequence number, not by counting lines read in a time window
  // (which a stalled reader stretches), makes the count independent of how
  // the threads are scheduled.
  const int made_unread = handler_.snapshots();
  int backlog = 0;
  int resumed = 0;
  while (resumed < 2) {
    std::string line = watcher.ReadLine(5s);
    json frame = json::parse(line, nullptr, false);
    ASSERT_TRUE(frame.is_object()) << line.substr(0, 80);
    ++(frame["snapshot"]["seq"].get<int>() <= made_unread ? backlog : resumed);
  }
  EXPECT_EQ(backlog, 1);
}

TEST_F(ControlServerTest, SnapshotLargerThanTheSocketBufferIsSentWhole) {
  handler_.set_snapshot_pad(2 << 20);
  RawConn watcher(socket_);
  watcher.Send(EncodeRequest(1, "watch", {{"interval_ms", 50}}));
  ASSERT_EQ(watcher.ReadJson()["result"]["watching"], true);
  std::this_thread::sleep_for(1s);
  ControlServerCounters c = server_->counters();
  EXPECT_EQ(handler_.snapshots(), 1);
  EXPECT_GT(c.max_pending_bytes, 0u);
  EXPECT_LE(c.max_pending_bytes, (2u << 20) + 200);
  json snap = watcher.ReadJson();
  EXPECT_EQ(snap["snapshot"]["volumes"][0]["pad"].get<std::string>().size(), 2u << 20);
  EXPECT_TRUE(json::accept(watcher.ReadLine(2s)));  // the next one follows
}

// ------------------------------------------------------------------ udmsetup

// The udmsetup binary of this build tree ($UDMSETUP overrides).
std::string UdmsetupPath() {
  if (const char* env = std::getenv("UDMSETUP"); env != nullptr) return env;
  fs::path self = fs::read_symlink("/proc/self/exe");
  return (self.parent_path() / "../../daemon/control/udmsetup").lexically_normal().string();
}

struct CliResult {
  int status = -1;
  std::string out, err;
};

enum class Input { kNull, kTty, kData };

// Reads both pipes to their end (at most 20 s).
void Drain(int out_fd, int err_fd, CliResult& r) {
  pollfd fds[2] = {{out_fd, POLLIN, 0}, {err_fd, POLLIN, 0}};
  std::string* sinks[2] = {&r.out, &r.err};
  int open = 2;
  while (open > 0 && ::poll(fds, 2, 20000) > 0) {
    for (int i = 0; i < 2; ++i) {
      if (fds[i].fd < 0 || fds[i].revents == 0) continue;
      char buf[4096];
      ssize_t n = ::read(fds[i].fd, buf, sizeof(buf));
      if (n > 0) sinks[i]->append(buf, static_cast<size_t>(n));
      else fds[i].fd = -1, --open;
    }
  }
}

class UdmsetupTest : public ControlServerTest {
 protected:
  void SetUp() override {
    binary_ = UdmsetupPath();
    if (::access(binary_.c_str(), X_OK) != 0) GTEST_SKIP() << "udmsetup is not built at " << binary_;
    std::signal(SIGPIPE, SIG_IGN);
    ControlServerTest::SetUp();
    cwd_ = fs::canonical(dir_.path()).string();
  }

  // Runs udmsetup in dir_ with UDM_SOCKET pointing at the test server.
  CliResult Run(std::vector<std::string> args, Input input = Input::kNull, const std::string& data = "") {
    std::vector<std::string> env = {"UDM_SOCKET=" + socket_, "HOME=" + dir_.path(), "LC_ALL=C"};
    std::vector<char*> argv{binary_.data()}, envp;
    for (std::string& a : args) argv.push_back(a.data());
    for (std::string& e : env) envp.push_back(e.data());
    argv.push_back(nullptr);
    envp.push_back(nullptr);
    int in[2], out[2], err[2];
    EXPECT_EQ(::pipe2(in, O_CLOEXEC) | ::pipe2(out, O_CLOEXEC) | ::pipe2(err, O_CLOEXEC), 0);
    SocketFd pty(input == Input::kTty ? ::posix_openpt(O_RDWR | O_NOCTTY) : -1);
    std::string tty = pty.valid() && ::grantpt(pty.get()) == 0 && ::unlockpt(pty.get()) == 0 ? ::ptsname(pty.get()) : "";
    pid_t pid = ::fork();
    if (pid == 0) {
      int stdin_fd = input == Input::kData ? in[0]
                     : input == Input::kTty ? ::open(tty.c_str(), O_RDWR | O_NOCTTY)
                                            : ::open("/dev/null", O_RDONLY);
      if (::chdir(dir_.path().c_str()) != 0 || ::dup2(stdin_fd, 0) < 0 || ::dup2(out[1], 1) < 0 ||
          ::dup2(err[1], 2) < 0) {
        ::_exit(126);
      }
      ::execve(binary_.c_str(), argv.data(), envp.data());
      ::_exit(127);
    }
    ::close(in[0]), ::close(out[1]), ::close(err[1]);
    (void)!::write(in[1], data.data(), data.size());
    ::close(in[1]);
    CliResult r;
    Drain(out[0], err[0], r);
    ::close(out[0]), ::close(err[0]);
    int status = 0;
    ::waitpid(pid, &status, 0);
    r.status = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
    return r;
  }

  FakeHandler::Call LastCall() {
    auto calls = handler_.calls();
    return calls.empty() ? FakeHandler::Call{"<none>", nullptr} : calls.back();
  }

  std::string binary_, cwd_;
};

TEST_F(UdmsetupTest, CreateSendsRepeatedTablesWithAbsolutePaths) {
  std::ofstream(dir_ / "a.img") << "x";
  CliResult r = Run({"create", "v", "--table", "0 8 linear a.img 0", "--table",
                     "8 8 linear ./gone.img 16\n16 8 zero", "--readonly", "-u", "U1", "--barriers", "ordered"});
  ASSERT_EQ(r.status, 0) << r.err;
  EXPECT_EQ(r.out, "");
  EXPECT_EQ(LastCall().method, "create");
  EXPECT_EQ(LastCall().params, json({{"name", "v"},
                                     {"table", "0 8 linear " + cwd_ + "/a.img 0\n8 8 linear " + cwd_ +
                                                   "/gone.img 16\n16 8 zero"},
                                     {"uuid", "U1"}, {"read_only", true}, {"barriers", "ordered"}}));
}

TEST_F(UdmsetupTest, TableComesFromFileOrStdinOrNowhere) {
  std::ofstream(dir_ / "b.img") << "x";
  const std::string table = "# two parts\n0 8 linear b.img 0 # first\n8 8 linear udm:base 0\n";
  const std::string absolute = "# two parts\n0 8 linear " + cwd_ + "/b.img 0 # first\n8 8 linear udm:base 0\n";
  std::ofstream(dir_ / "t.table") << table;
  ASSERT_EQ(Run({"load", "v", "t.table"}).status, 0);
  EXPECT_EQ(LastCall().params, json({{"name", "v"}, {"table", absolute}}));
  ASSERT_EQ(Run({"reload", "v"}, Input::kData, table).status, 0);
  EXPECT_EQ(LastCall().method, "load");
  EXPECT_EQ(LastCall().params["table"], absolute);
  // A terminal on stdin: create makes a volume without a table, load refuses.
  ASSERT_EQ(Run({"create", "w"}, Input::kTty).status, 0);
  EXPECT_EQ(LastCall().params, json({{"name", "w"}, {"read_only", false}}));
  size_t calls = handler_.calls().size();
  CliResult r = Run({"load", "w"}, Input::kTty);
  EXPECT_EQ(r.status, 1);
  EXPECT_EQ(r.err, "udmsetup: load: no table given (use --table, a FILE argument or stdin)\n");
  r = Run({"load", "w", "missing.table"});
  EXPECT_EQ(r.status, 1);
  EXPECT_THAT(r.err, HasSubstr("table file missing.table: No such file"));
  EXPECT_EQ(handler_.calls().size(), calls);
}

TEST_F(UdmsetupTest, EachVerbSendsItsMethodAndParams) {
  struct Case {
    std::vector<std::string> args;
    std::string method;
    json params;
  };
  const Case cases[] = {
      {{"clear", "v"}, "clear", {{"name", "v"}}},
      {{"suspend", "--noflush", "v"}, "suspend", {{"name", "v"}, {"noflush", true}}},
      {{"suspend", "v"}, "suspend", {{"name", "v"}, {"noflush", false}}},
      // xfstests' common/dmflakey: --nolockfs is accepted and changes nothing.
      {{"suspend", "--nolockfs", "--noflush", "v"}, "suspend", {{"name", "v"}, {"noflush", true}}},
      {{"resume", "v"}, "resume", {{"name", "v"}}},
      {{"remove", "-f", "v"}, "remove", {{"name", "v"}, {"force", true}}},
      {{"rename", "v", "w"}, "rename", {{"name", "v"}, {"new_name", "w"}}},
      {{"table", "--inactive", "--target", "linear", "v"}, "table",
       {{"name", "v"}, {"inactive", true}, {"target", "linear"}}},
      {{"status", "v"}, "status", {{"name", "v"}, {"inactive", false}}},
      {{"info"}, "info", json::object()},
      {{"info", "v"}, "info", {{"name", "v"}}},
      {{"ls"}, "ls", json::object()},
      {{"deps", "v"}, "deps", {{"name", "v"}}},
      {{"message", "v", "8", "--", "-x", "y"}, "message", {{"name", "v"}, {"sector", 8}, {"args", {"-x", "y"}}}},
      {{"targets"}, "targets", json::object()},
      {{"version"}, "version", json::object()},
      {{"wait", "v", "3"}, "wait", {{"name", "v"}, {"event", 3}}},
      {{"stats", "v"}, "stats", {{"name", "v"}}},
      {{"events", "--limit", "5", "v"}, "events", {{"name", "v"}, {"limit", 5}}},
  };
  for (const Case& c : cases) {
    CliResult r = Run(c.args);
    EXPECT_EQ(r.status, 0) << c.args[0] << ": " << r.err;
    EXPECT_EQ(LastCall().method, c.method);
    EXPECT_EQ(LastCall().params, c.params) << c.args[0];
  }
}

TEST_F(UdmsetupTest, PrintsLikeDmsetupAndJsonOnRequest) {
  json info = {{"name", "v"}, {"uuid", "udm-1"}, {"state", "ACTIVE"}, {"read_only", false},
               {"barriers", "flush"}, {"live_table", true}, {"inactive_table", false},
               {"open_count", 0}, {"event_nr", 2}, {"num_targets", 1}, {"sectors", 8},
               {"path", "/m/v"}};
  handler_.Answer("info", info);
  CliResult r = Run({"info", "v"});
  ASSERT_EQ(r.status, 0) << r.err;
  EXPECT_EQ(r.out,
            "Name:              v\nState:             ACTIVE\nTables present:    LIVE\n"
            "Open count:        0\nEvent number:      2\nPath:              /m/v\n"
            "Number of targets: 1\nBarriers:          flush\nUUID: udm-1\n\n");
  r = Run({"--json", "info", "v"});
  EXPECT_EQ(json::parse(r.out), info);
  r = Run({"version"});
  EXPECT_EQ(r.out, "Library version:   0.1.0 (udmsetup)\nDriver version:    0.1.0 (udmd, protocol 1)\n");
  handler_.Answer("table", json{{"lines", {"0 8 linear /a 0", "8 8 zero"}}});
  EXPECT_EQ(Run({"table", "v"}).out, "0 8 linear /a 0\n8 8 zero\n");
}

TEST_F(UdmsetupTest, BadInputFailsWithAMessageAndSendsNothing) {
  struct Case {
    std::vector<std::string> args;
    std::string err;
  };
  const Case cases[] = {
      {{"frob"}, "udmsetup: unknown verb 'frob' (see 'udmsetup help')\n"},
      {{}, "udmsetup: no verb given (see 'udmsetup help')\n"},
      {{"create"}, "udmsetup: create: missing arguments (usage: udmsetup create NAME"},
      {{"create", "a/b"}, "udmsetup: volume name 'a/b' contains '/'\n"},
      {{"message", "v", "x1", "hi"}, "udmsetup: sector 'x1' is not an unsigned decimal number\n"},
      {{"suspend", "--force", "v"}, "udmsetup: option '--force' does not apply to 'suspend'\n"},
      {{"resume", "v", "w"}, "udmsetup: resume: unexpected argument 'w'"},
      {{"create", "v", "--barriers", "never"}, "udmsetup: --barriers must be 'flush' or 'ordered'"},
      {{"ls", "--bogus"}, "udmsetup: unknown option '--bogus'\n"},
      {{"create", "v", "--table"}, "udmsetup: option '--table' needs a value\n"},
  };
  for (const Case& c : cases) {
    CliResult r = Run(c.args);
    EXPECT_EQ(r.status, 2) << c.err;
    EXPECT_THAT(r.err, StartsWith(c.err));
    EXPECT_EQ(r.out, "");
  }
  EXPECT_TRUE(handler_.calls().empty());
  handler_.Answer("remove", Fail(ErrorCode::kNotFound, ENOENT, "volume 'x' not found"));
  CliResult r = Run({"remove", "x"});
  EXPECT_EQ(r.status, 1);
  EXPECT_EQ(r.err, "udmsetup: volume 'x' not found\n");
  r = Run({"--socket", dir_ / "nope.sock", "ls"});
  EXPECT_EQ(r.status, 1);
  EXPECT_THAT(r.err, HasSubstr("nope.sock does not exist"));
}

TEST_F(UdmsetupTest, RefusesASocketOwnedBySomeoneElse) {
  if (::geteuid() != 0) GTEST_SKIP() << "needs root to chown the socket";
  ASSERT_EQ(::chown(socket_.c_str(), 65534, 65534), 0);
  CliResult r = Run({"ls"});
  EXPECT_EQ(r.status, 1);
  EXPECT_THAT(r.err, HasSubstr("refusing to use " + socket_ + ": it is owned by uid 65534"));
  EXPECT_TRUE(handler_.calls().empty());
}

// In-process checks of the CLI's parsing, path rewriting and formatting.

std::vector<std::string> Words(std::initializer_list<const char*> words) {
  return std::vector<std::string>(words.begin(), words.end());
}

// The CLI finds the caller's own daemon first and the system daemon's
// socket only when the caller has none.
TEST(SocketPathTest, OwnSocketFirstThenTheSystemSocket) {
  TempDir dir;
  const std::string system = dir / "system.sock";
  const std::string own = dir / "state/udm/udm.sock";
  ::unsetenv("UDM_SOCKET");
  ::setenv("XDG_STATE_HOME", (dir / "state").c_str(), 1);
  EXPECT_EQ(ResolveSocketPath(std::nullopt, system), own) << "no system socket either";
  std::ofstream(system).put('x');
  EXPECT_EQ(ResolveSocketPath(std::nullopt, system), system);
  fs::create_directories(dir / "state/udm");
  std::ofstream(own).put('x');
  EXPECT_EQ(ResolveSocketPath(std::nullopt, system), own);
  ::setenv("UDM_SOCKET", "/elsewhere.sock", 1);
  EXPECT_EQ(ResolveSocketPath(std::nullopt, system), "/elsewhere.sock");
  EXPECT_EQ(ResolveSocketPath(std::string("/given.sock"), system), "/given.sock");
  ::unsetenv("UDM_SOCKET");
  ::unsetenv("XDG_STATE_HOME");
}

TEST(UdmsetupFormatTest, CommandLineParsing) {
  auto c = udmsetup::ParseCommandLine(Words({"--json", "reload", "--table=0 8 zero", "v", "--socket", "/s"}));
  ASSERT_TRUE(c.has_value()) << c.error().message;
  EXPECT_EQ(c->verb, "load");
  EXPECT_EQ(c->args, Words({"v"}));
  EXPECT_EQ(c->options.tables, Words({"0 8 zero"}));
  EXPECT_EQ(c->options.socket, "/s");
  EXPECT_TRUE(c->options.json);
  EXPECT_EQ(udmsetup::ParseCommandLine(Words({"--version"}))->verb, "version");
  EXPECT_EQ(udmsetup::ParseCommandLine(Words({"ls", "--help"}))->verb, "help");
  EXPECT_FALSE(udmsetup::ParseCommandLine(Words({"create", "v", "-n", "--table", "x"})).has_value());
  EXPECT_FALSE(udmsetup::ParseCommandLine(Words({"create", "v", "f", "--table", "x"})).has_value());
  EXPECT_FALSE(udmsetup::ParseCommandLine(Words({"ls", "--json=yes"})).has_value());
  EXPECT_FALSE(udmsetup::ParseCommandLine(Words({"wait", "v", "-1"})).has_value());
}

TEST(UdmsetupFormatTest, RelativeDevicePathsBecomeAbsolute) {
  TempDir dir;
  std::ofstream(dir / "a.img") << "x";
  std::ofstream(dir / "zero") << "x";
  std::ofstream(dir / "8") << "x";
  fs::create_directory(dir / "core");
  const std::string& d = dir.path();
  EXPECT_EQ(udmsetup::AbsolutizeTablePaths("0 8 zero", d), "0 8 zero");  // start/length/target never
  EXPECT_EQ(udmsetup::AbsolutizeTablePaths("0  8 linear\ta.img 8", d), "0 8 linear " + d + "/a.img 8");
  EXPECT_EQ(udmsetup::AbsolutizeTablePaths("0 8 linear ../x/./y.img 0", d),
            "0 8 linear " + fs::path(d).parent_path().string() + "/x/y.img 0");
  EXPECT_EQ(udmsetup::AbsolutizeTablePaths("0 8 mirror core 2 nofile /abs udm:a 0", d),
            "0 8 mirror core 2 nofile /abs udm:a 0");
  EXPECT_EQ(udmsetup::AbsolutizeTablePaths("# a.img\n\n0 8 linear a.img 0 # a.img\n", d),
            "# a.img\n\n0 8 linear " + d + "/a.img 0 # a.img\n");
}

TEST(UdmsetupFormatTest, OutputFormats) {
  auto format = [](const char* verb, const json& result) {
    return udmsetup::FormatResult(udmsetup::CliCommand{verb, {}, {}}, result);
  };
  EXPECT_EQ(format("info", json::array()), "No devices found\n");
  EXPECT_EQ(format("info", json::array({{{"name", "a"}}, {{"name", "b"}, {"read_ahead", 256}}})),
            "Name:              a\nState:             \nTables present:    None\nOpen count:        0\n"
            "Event number:      0\nNumber of targets: 0\n\n"
            "Name:              b\nState:             \nRead Ahead:        256\nTables present:    None\n"
            "Open count:        0\nEvent number:      0\nNumber of targets: 0\n\n");
  // What failed is shown; a volume that never failed shows a zero count only.
  EXPECT_EQ(format("info", {{"name", "f"}, {"errors", 2},
                            {"last_error", "write to /t/a.img at sector 8: No space left on device"},
                            {"restore_error", "live table: open /t/b.img: No such file or directory"}}),
            "Name:              f\nState:             \nTables present:    None\nOpen count:        0\n"
            "Event number:      0\nNumber of targets: 0\nErrors:            2\n"
            "Last error:        write to /t/a.img at sector 8: No space left on device\n"
            "Restore error:     live table: open /t/b.img: No such file or directory\n\n");
  EXPECT_EQ(format("info", {{"name", "g"}, {"errors", 0}, {"last_error", ""}}),
            "Name:              g\nState:             \nTables present:    None\nOpen count:        0\n"
            "Event number:      0\nNumber of targets: 0\nErrors:            0\n\n");
  EXPECT_EQ(format("ls", json::array({{{"name", "v"}, {"sectors", 2048}}, {{"name", "w"}, {"sectors", 8}}})),
            "v\t(2048 sectors)\nw\t(8 sectors)\n");
  EXPECT_EQ(format("ls", json::array()), "No devices found\n");
  EXPECT_EQ(format("deps", {{"devices", {"/img/a.img", "udm:base"}}}), "2 dependencies\t: (/img/a.img) (udm:base)\n");
  EXPECT_EQ(format("targets", json::array({{{"name", "linear"}, {"version", {1, 4, 0}}}, {{"name", "zero"}, {"version", {1, 2, 0}}}})),
            "linear           v1.4.0\nzero             v1.2.0\n");
  EXPECT_EQ(format("message", {{"reply", "ok"}}), "ok\n");
  EXPECT_EQ(format("message", {{"reply", ""}}), "");
  EXPECT_EQ(format("create", {{"name", "v"}}), "");
  EXPECT_EQ(format("events", json::array({{{"time", "2026-11-25T14:00:00.123Z"}, {"kind", "suspend"}, {"detail", "noflush"}},
                                          {{"time", "2026-11-25T14:00:01.000Z"}, {"kind", "resume"}, {"detail", ""}}})),
            "2026-11-25T14:00:00.123Z  suspend    noflush\n2026-11-25T14:00:01.000Z  resume\n");
  json stats = {{"name", "v"}, {"state", "SUSPENDING"}, {"reads", 10}, {"writes", 5}, {"flushes", 1},
                {"barriers", 2}, {"discards", 0}, {"write_zeroes", 0}, {"read_bytes", 40960},
                {"write_bytes", 20480}, {"errors", 0}, {"requeues", 3}, {"in_flight", 4}, {"deferred", 6},
                {"barrier_latency_us", {{"count", 3}, {"p50", 80}, {"p90", 90}, {"p99", 99}, {"max", 120}}},
                {"inflight_barriers", {{{"id", 7}, {"ordered", true}, {"phase", "pre-flush"}, {"age_us", 1200},
                                        {"waiters", 2}},
                                       {{"id", 8}, {"ordered", true}, {"phase", "queued"}, {"age_us", 5}}}},
                {"event_nr", 3}};
  EXPECT_EQ(format("stats", stats),
            "Name:              v\nState:             SUSPENDING\nReads:             10 (40960 bytes)\n"
            "Writes:            5 (20480 bytes)\nFlushes:           1\nBarriers:          2\n"
            "Discards:          0\nWrite zeroes:      0\nErrors:            0\nRequeues:          3\n"
            "In flight:         4\nDeferred:          6\n"
            "Barrier latency:   3 samples, p50 80 us, p90 90 us, p99 99 us, max 120 us\n"
            "In-flight barriers: 2\n  #7 ordered pre-flush 1200 us, 2 waiting behind it\n"
            "  #8 ordered queued 5 us\nEvent number:      3\n");
  // Malformed results print what they can and never throw.
  EXPECT_EQ(format("stats", json("junk")).substr(0, 20), "Name:              \n");
  EXPECT_EQ(format("targets", json::array({{{"name", 5}, {"version", "x"}}})), "5                v0.0.0\n");
}

}  // namespace
}  // namespace udm::daemon
