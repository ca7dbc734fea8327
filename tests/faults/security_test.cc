// Who may use what: another user cannot use the control socket (the
// directory, the socket's mode and the daemon's SO_PEERCRED check each
// stop them), cannot open a volume file, a symlink in a table is resolved
// once at load time, and udmsetup refuses a socket owned by, or served by,
// someone else.
#include <fcntl.h>
#include <grp.h>
#include <poll.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <cstring>
#include <filesystem>

#include "control/socket_util.h"
#include "faults/fault_support.h"

namespace udm::test {
namespace {

namespace fs = std::filesystem;
using ::testing::HasSubstr;
using nlohmann::json;

constexpr uint64_t kBlocks = 16;  // blocks written in the symlink test

// What happened when a client tried the socket.
enum Outcome { kConnected = 0, kRefusedByKernel = 1, kOtherError = 2, kRefusedByDaemon = 3 };

// Connects to `path` and asks for the version; as another user this should
// stop at connect (EACCES) or at the daemon's permission_denied answer.
int TrySocket(const std::string& path) {
  auto fd = daemon::ConnectUnix(path);
  if (!fd) return fd.error().sys_errno == EACCES ? kRefusedByKernel : kOtherError;
  const std::string request = "{\"id\":1,\"method\":\"version\"}\n";
  if (!daemon::SendAll(fd->get(), request)) return kRefusedByDaemon;  // closed on us
  std::string answer;
  char buf[4096];
  pollfd p{fd->get(), POLLIN, 0};
  while (answer.find('\n') == std::string::npos && poll(&p, 1, 10000) == 1) {
    const ssize_t n = read(fd->get(), buf, sizeof(buf));
    if (n <= 0) break;
    answer.append(buf, static_cast<size_t>(n));
  }
  if (answer.find("permission_denied") != std::string::npos) return kRefusedByDaemon;
  return answer.find("\"result\"") != std::string::npos ? kConnected : kOtherError;
}

class SecurityTest : public FaultsFixture {
 protected:
  // Lets other users traverse the test directory (mkdtemp made it 0700), so
  // that what stops them is the thing under test.
  void OpenTestDirectory() { ASSERT_EQ(chmod(dir_.c_str(), 0711), 0); }
};

TEST_F(SecurityTest, AnotherUserCannotUseTheSocket) {
  const std::string sock = daemon_->socket();
  EXPECT_EQ(RunAsNobody([&] { return TrySocket(sock); }), kRefusedByKernel) << "state dir 0700";
  OpenTestDirectory();
  ASSERT_EQ(chmod(daemon_->state().c_str(), 0711), 0);
  struct stat st {};
  ASSERT_EQ(stat(sock.c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 07777, 0600u);
  EXPECT_EQ(RunAsNobody([&] { return TrySocket(sock); }), kRefusedByKernel) << "socket 0600";
  // Even with the socket opened up by mistake, the daemon checks who it is.
  ASSERT_EQ(chmod(sock.c_str(), 0666), 0);
  EXPECT_EQ(RunAsNobody([&] { return TrySocket(sock); }), kRefusedByDaemon) << "socket 0666";
  EXPECT_EQ(TrySocket(sock), kConnected) << "root still gets in";
  EXPECT_TRUE(Udm({"ls"}).ok());
}

TEST_F(SecurityTest, AVolumeFileIsNotReadableByOtherUsers) {
  const std::string a = Backing("a.img", kFileBytes);
  ASSERT_TRUE(Udm({"create", "v", "--table", LinearTable(a)}).ok());
  struct stat st {};
  ASSERT_EQ(stat(Vol("v").c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 07777, 0600u);
  EXPECT_EQ(st.st_uid, getuid());
  OpenTestDirectory();
  const std::string path = Vol("v");
  const int opened = RunAsNobody([&] {
    const int fd = open(path.c_str(), O_RDONLY);
    if (fd >= 0) return 0;
    return errno == EACCES ? 1 : 2;
  });
  EXPECT_EQ(opened, 1) << "open as nobody must fail with EACCES";
  BlockFile f(path);
  EXPECT_TRUE(f.ok()) << "the daemon's own user opens it";
}

TEST_F(SecurityTest, ASymlinkInATableIsResolvedAtLoadAndNeverFollowedAgain) {
  const std::string a = Backing("a.img", kFileBytes), b = Backing("b.img", kFileBytes);
  const std::string link = dir_ + "/current.img";
  fs::create_symlink(a, link);
  const std::string table = LinearTable(link);
  ASSERT_TRUE(Udm({"create", "v", "--table", table}).ok());
  WriteAndCheck("v", 1, 0, kBlocks, 1);
  ExpectBlocks(a, 1, 0, kBlocks, 1);

  // Swap the link (atomically, as an attacker or a tool would): the volume
  // keeps the file it opened at load time.
  fs::create_symlink(b, link + ".new");
  fs::rename(link + ".new", link);
  WriteAndCheck("v", 1, 0, kBlocks, 2);
  ExpectBlocks(a, 1, 0, kBlocks, 2);
  ExpectBlocks(b, 1, 0, kBlocks, 0);  // untouched: still zeros
  EXPECT_EQ(Udm({"table", "v"}).out, table + "\n");  // the path as given

  // A reload resolves the link anew.
  ASSERT_TRUE(Udm({"load", "v", "--table", table}).ok());
  ASSERT_TRUE(Udm({"resume", "v"}).ok());
  ExpectBlocks(Vol("v"), 1, 0, kBlocks, 0);
  WriteAndCheck("v", 1, 0, kBlocks, 3);
  ExpectBlocks(b, 1, 0, kBlocks, 3);
  ExpectBlocks(a, 1, 0, kBlocks, 2);
}

TEST_F(SecurityTest, UdmsetupRefusesASocketOwnedBySomeoneElse) {
  const std::string sock = daemon_->socket();
  ASSERT_EQ(chown(sock.c_str(), kNobody, kNobody), 0);
  auto r = Udm({"ls"});
  EXPECT_NE(r.exit_code, 0);
  EXPECT_THAT(r.err, HasSubstr("refusing to use " + sock + ": it is owned by uid 65534 (nobody)"));
  EXPECT_EQ(r.out, "");
  ASSERT_EQ(chown(sock.c_str(), 0, 0), 0);
  EXPECT_TRUE(Udm({"ls"}).ok());
}

// A server run by nobody, answering one request as udmd would. Its socket
// file is then handed to root, so only SO_PEERCRED can tell.
TEST_F(SecurityTest, UdmsetupRefusesADaemonRunningAsSomeoneElse) {
  OpenTestDirectory();
  const std::string fake_dir = dir_ + "/fake";
  fs::create_directory(fake_dir);
  ASSERT_EQ(chmod(fake_dir.c_str(), 0777), 0);
  const std::string sock = fake_dir + "/udm.sock";
  int ready[2];
  ASSERT_EQ(pipe(ready), 0);
  const pid_t server = fork();
  if (server == 0) {
    close(ready[0]);
    if (setgroups(0, nullptr) != 0 || setgid(kNobody) != 0 || setuid(kNobody) != 0) _exit(126);
    auto addr = daemon::UnixAddress(sock);
    const int fd = socket(AF_UNIX, SOCK_STREAM, 0);
    if (!addr || bind(fd, reinterpret_cast<const sockaddr*>(&*addr), sizeof(*addr)) != 0 ||
        listen(fd, 4) != 0) {
      _exit(125);
    }
    (void)!write(ready[1], "r", 1);
    pollfd p{fd, POLLIN, 0};
    while (poll(&p, 1, 20000) == 1) {
      const int c = accept(fd, nullptr, nullptr);
      char buf[4096];
      if (read(c, buf, sizeof(buf)) > 0) {
        const std::string answer = "{\"id\":1,\"result\":{\"version\":\"0.1.0\",\"protocol\":1}}\n";
        (void)!write(c, answer.data(), answer.size());
      }
      close(c);
    }
    _exit(0);
  }
  close(ready[1]);
  char c;
  ASSERT_EQ(read(ready[0], &c, 1), 1) << "the fake server did not start";
  close(ready[0]);
  struct stat st {};
  ASSERT_EQ(stat(sock.c_str(), &st), 0);
  EXPECT_EQ(st.st_uid, kNobody);
  ASSERT_EQ(chown(sock.c_str(), 0, 0), 0);  // the file now passes the owner check

  auto r = RunCommand({UDMSETUP_PATH, "--socket", sock, "version"});
  kill(server, SIGKILL);
  waitpid(server, nullptr, 0);
  EXPECT_NE(r.exit_code, 0) << r.out;
  EXPECT_THAT(r.err, HasSubstr("refusing to use " + sock));
  EXPECT_THAT(r.err, HasSubstr("runs as uid 65534 (nobody), not as you (uid 0"));
}

}  // namespace
}  // namespace udm::test
