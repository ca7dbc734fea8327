// The testing targets end to end: a real udmd, driven by udmsetup exactly as
// dmsetup scripts drive dm, with volumes used through their FUSE files,
// loop devices, ext4, mount and e2fsck. Covers the xfstests flakey power
// cut, dust bad blocks, delay isolation and presuspend release, and EIO
// from the error target.
#include <fcntl.h>
#include <sys/mount.h>
#include <unistd.h>

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <random>
#include <thread>

#include <fmt/core.h>

#include "support/command.h"
#include "support/daemon_fixture.h"

namespace udm::test {
namespace {

namespace fs = std::filesystem;
using ::testing::HasSubstr;
using Clock = std::chrono::steady_clock;

constexpr uint64_t kBlock = 4096;

// A page-aligned buffer for O_DIRECT.
struct AlignedBuf {
  explicit AlignedBuf(size_t n, uint8_t fill = 0)
      : p(static_cast<uint8_t*>(std::aligned_alloc(kBlock, n))), size(n) {
    std::memset(p, fill, n);
  }
  ~AlignedBuf() { std::free(p); }
  uint8_t* p;
  size_t size;
};

// pread/pwrite of one aligned block through O_DIRECT: 0 or the errno.
int DirectIo(const std::string& path, bool write, uint64_t off, AlignedBuf& buf) {
  const int fd = open(path.c_str(), O_RDWR | O_DIRECT);
  if (fd < 0) return errno;
  const ssize_t n = write ? pwrite(fd, buf.p, buf.size, static_cast<off_t>(off))
                          : pread(fd, buf.p, buf.size, static_cast<off_t>(off));
  const int err = n < 0 ? errno : (static_cast<size_t>(n) == buf.size ? 0 : EIO);
  close(fd);
  return err;
}

class TargetsE2eTest : public DaemonFixture {
 protected:
  void SetUp() override {
    if (geteuid() != 0 || access("/dev/fuse", R_OK | W_OK) != 0) {
      GTEST_SKIP() << "needs root and /dev/fuse";
    }
    ASSERT_NO_FATAL_FAILURE(StartDaemon("udm-targets-e2e"));
  }

  // Runs udmsetup and expects success; returns its stdout.
  std::string UdmOk(std::vector<std::string> args) {
    std::string what;
    for (const auto& a : args) what += a + " ";
    CommandResult r = daemon_->Udm(std::move(args));
    EXPECT_TRUE(r.ok()) << "udmsetup " << what << ": " << r.err;
    return r.out;
  }
  CommandResult Udm(std::vector<std::string> args) { return daemon_->Udm(std::move(args)); }
  // Polls `udmsetup status NAME` for up to 5 s until it prints `expect`.
  bool WaitForStatus(const std::string& name, const std::string& expect) {
    const auto deadline = Clock::now() + std::chrono::seconds(5);
    while (Clock::now() < deadline) {
      if (Udm({"status", name}).out == expect) return true;
      std::this_thread::sleep_for(std::chrono::milliseconds(10));
    }
    return false;
  }
  // xfstests' _load_flakey_table: suspend, load, resume.
  void SwapTable(const std::string& name, const std::string& table, bool noflush) {
    std::vector<std::string> suspend = {"suspend", "--nolockfs"};
    if (noflush) suspend.push_back("--noflush");
    suspend.push_back(name);
    UdmOk(suspend);
    UdmOk({"load", name, "--table", table});
    UdmOk({"resume", name});
  }

};

std::string RandomBytes(size_t n, uint64_t seed) {
  std::mt19937_64 rng(seed);
  std::string s(n, '\0');
  for (char& c : s) c = static_cast<char>(rng());
  return s;
}

// Writes `data` to `path` and fsyncs the file and its directory.
void WriteDurably(const std::string& path, const std::string& data) {
  const int fd = open(path.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
  ASSERT_GE(fd, 0) << path;
  ASSERT_EQ(write(fd, data.data(), data.size()), static_cast<ssize_t>(data.size()));
  ASSERT_EQ(fsync(fd), 0);
  close(fd);
  const int dfd = open(fs::path(path).parent_path().c_str(), O_RDONLY | O_DIRECTORY);
  ASSERT_GE(dfd, 0);
  ASSERT_EQ(fsync(dfd), 0);
  close(dfd);
}

std::string Slurp(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  return {std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
}

TEST_F(TargetsE2eTest, TargetsAreListed) {
  const std::string out = UdmOk({"targets"});
  for (const char* t : {"delay", "dust", "flakey", "error"}) EXPECT_THAT(out, HasSubstr(t));
}

TEST_F(TargetsE2eTest, FlakeyPowerCutKeepsFsyncedDataAndLosesTheRest) {
  constexpr uint64_t kSectors = 131072;  // 64 MiB
  const std::string back = Backing("scratch.img", kSectors * 512);
  // xfstests' common/dmflakey tables, word for word.
  const std::string allow = fmt::format("0 {} flakey {} 0 180 0", kSectors, back);
  const std::string drop = fmt::format("0 {} flakey {} 0 0 180 1 drop_writes", kSectors, back);
  UdmOk({"create", "flakey-test", "--table", allow});
  EXPECT_EQ(UdmOk({"table", "flakey-test"}),
            fmt::format("0 {} flakey {} 0 180 0 2 error_reads error_writes\n", kSectors, back));
  EXPECT_EQ(UdmOk({"status", "flakey-test"}), fmt::format("0 {} flakey\n", kSectors));

  std::string loop = Loop(Vol("flakey-test"), /*direct=*/true);
  ASSERT_FALSE(loop.empty());
  auto mk = RunCommand({"mkfs.ext4", "-q", "-F", loop}, "", 120);
  ASSERT_TRUE(mk.ok()) << mk.err;
  const std::string mnt = dir_ + "/scratch";
  ASSERT_NO_FATAL_FAILURE(Mount(loop, mnt));
  const std::string a = RandomBytes(1 << 20, 1), b = RandomBytes(1 << 20, 2);
  WriteDurably(mnt + "/A", a);

  // The power cut: from here on writes are acknowledged and dropped.
  SwapTable("flakey-test", drop, /*noflush=*/true);
  EXPECT_EQ(UdmOk({"table", "flakey-test"}), drop + "\n");
  WriteDurably(mnt + "/B", b);  // "succeeds", like a disk that lies
  ASSERT_NO_FATAL_FAILURE(Umount(mnt));
  Detach(loop);

  SwapTable("flakey-test", allow, /*noflush=*/false);
  loop = Loop(Vol("flakey-test"), /*direct=*/true);
  // Mount replays the journal, as the next boot would; then the filesystem
  // must check clean.
  ASSERT_NO_FATAL_FAILURE(Mount(loop, mnt));
  EXPECT_TRUE(Slurp(mnt + "/A") == a) << "fsynced file A lost or damaged";
  EXPECT_TRUE(!fs::exists(mnt + "/B") || fs::file_size(mnt + "/B") == 0)
      << "B was written after the power cut, yet " << fs::file_size(mnt + "/B") << " bytes survive";
  ASSERT_NO_FATAL_FAILURE(Umount(mnt));
  auto fsck = RunCommand({"e2fsck", "-fn", loop}, "", 120);
  EXPECT_TRUE(fsck.ok()) << fsck.out << fsck.err;
}

TEST_F(TargetsE2eTest, DustFailsReadsOfABadBlockUntilItIsRewritten) {
  const std::string back = Backing("dust.img", 1 << 20);
  UdmOk({"create", "d", "--table", fmt::format("0 2048 dust {} 0 4096", back)});
  EXPECT_EQ(UdmOk({"table", "d"}), fmt::format("0 2048 dust {} 0 4096\n", back));
  EXPECT_EQ(UdmOk({"status", "d"}), fmt::format("0 2048 dust {} bypass verbose\n", back));
  AlignedBuf data(kBlock, 0x5d);
  ASSERT_EQ(DirectIo(Vol("d"), true, 3 * kBlock, data), 0);

  // dm-dust's documented session, word for word.
  EXPECT_EQ(UdmOk({"message", "d", "0", "addbadblock", "3"}), "");
  EXPECT_EQ(UdmOk({"message", "d", "0", "queryblock", "3"}),
            "dust_query_block: block 3 found in badblocklist\n");
  EXPECT_EQ(UdmOk({"message", "d", "0", "countbadblocks"}), "countbadblocks: 1 badblock(s) found\n");
  AlignedBuf buf(kBlock);
  EXPECT_EQ(DirectIo(Vol("d"), false, 3 * kBlock, buf), 0);  // not enabled yet
  UdmOk({"message", "d", "0", "enable"});
  EXPECT_EQ(UdmOk({"status", "d"}),
            fmt::format("0 2048 dust {} fail_read_on_bad_block verbose\n", back));
  EXPECT_EQ(DirectIo(Vol("d"), false, 3 * kBlock, buf), EIO);
  EXPECT_EQ(DirectIo(Vol("d"), false, 3 * kBlock, buf), EIO);  // stays bad
  EXPECT_EQ(DirectIo(Vol("d"), false, 2 * kBlock, buf), 0);    // neighbours are fine

  AlignedBuf fresh(kBlock, 0xf7);
  ASSERT_EQ(DirectIo(Vol("d"), true, 3 * kBlock, fresh), 0);  // rewriting heals it
  ASSERT_EQ(DirectIo(Vol("d"), false, 3 * kBlock, buf), 0);
  EXPECT_EQ(std::memcmp(buf.p, fresh.p, kBlock), 0);
  EXPECT_EQ(UdmOk({"message", "d", "0", "countbadblocks"}), "countbadblocks: 0 badblock(s) found\n");

  auto bad = Udm({"message", "d", "0", "removebadblock", "3"});
  EXPECT_FALSE(bad.ok());
  EXPECT_THAT(bad.err, HasSubstr("block 3 not found in badblocklist"));
  bad = Udm({"message", "d", "0", "addbadblock", "9999"});
  EXPECT_FALSE(bad.ok());
  EXPECT_THAT(bad.err, HasSubstr("out of range"));
}

TEST_F(TargetsE2eTest, DelayedReadWaitsWithoutSlowingAnotherVolume) {
  const std::string slow_back = Backing("slow.img", 1 << 20);
  const std::string fast_back = Backing("fast.img", 1 << 20);
  UdmOk({"create", "slow", "--table", fmt::format("0 2048 delay {} 0 2000", slow_back)});
  UdmOk({"create", "fast", "--table", fmt::format("0 2048 linear {} 0", fast_back)});
  EXPECT_EQ(UdmOk({"table", "slow"}), fmt::format("0 2048 delay {} 0 2000\n", slow_back));
  EXPECT_EQ(UdmOk({"status", "slow"}), "0 2048 delay 0 0 0\n");

  std::atomic<bool> slow_done{false};
  int slow_err = -1;
  Clock::duration slow_took{};
  std::thread reader([&] {
    AlignedBuf buf(kBlock);
    const auto start = Clock::now();
    slow_err = DirectIo(Vol("slow"), false, 0, buf);
    slow_took = Clock::now() - start;
    slow_done = true;
  });
  // Wait until the read is parked in the target (its status counts it).
  EXPECT_TRUE(WaitForStatus("slow", "0 2048 delay 1 0 0\n"));
  // The other volume answers while the slow read is still held.
  for (int i = 0; i < 10; ++i) {
    AlignedBuf buf(kBlock);
    ASSERT_EQ(DirectIo(Vol("fast"), false, i * kBlock, buf), 0);
  }
  const bool fast_first = !slow_done.load();
  reader.join();
  EXPECT_TRUE(fast_first) << "reads of another volume waited for the delayed read";
  EXPECT_EQ(slow_err, 0);
  EXPECT_GE(slow_took, std::chrono::milliseconds(2000));
  EXPECT_EQ(UdmOk({"status", "slow"}), "0 2048 delay 0 0 0\n");
}

TEST_F(TargetsE2eTest, SuspendReleasesDelayedIoAtOnce) {
  const std::string back = Backing("held.img", 1 << 20);
  UdmOk({"create", "held", "--table",
         fmt::format("0 2048 delay {0} 0 0 {0} 0 600000", back)});
  std::atomic<bool> done{false};
  int err = -1;
  std::thread writer([&] {
    AlignedBuf buf(kBlock, 0x42);
    err = DirectIo(Vol("held"), true, 5 * kBlock, buf);
    done = true;
  });
  EXPECT_TRUE(WaitForStatus("held", "0 2048 delay 0 1 0\n"));
  // A ten-minute delay: the suspend can only return (within udmsetup's time
  // limit) because presuspend submits the held write.
  auto r = daemon_->Udm({"suspend", "held"}, "", 60);
  EXPECT_TRUE(r.ok()) << r.err;
  writer.join();
  EXPECT_EQ(err, 0);
  EXPECT_EQ(ReadFileRange(back, 5 * kBlock, 1)[0], 0x42);
  UdmOk({"resume", "held"});
}

TEST_F(TargetsE2eTest, ErrorTargetReportsEioToTheFilesUser) {
  const std::string back = Backing("err.img", 1 << 20);
  UdmOk({"create", "e", "--table", fmt::format("0 1024 linear {} 0\n1024 1024 error", back)});
  AlignedBuf buf(kBlock, 0x31);
  EXPECT_EQ(DirectIo(Vol("e"), true, 0, buf), 0);
  EXPECT_EQ(DirectIo(Vol("e"), false, 0, buf), 0);
  const uint64_t bad = 1024 * 512 + 2 * kBlock;
  EXPECT_EQ(DirectIo(Vol("e"), false, bad, buf), EIO);
  EXPECT_EQ(DirectIo(Vol("e"), true, bad, buf), EIO);

  // Buffered: the read fails; the write fails at write() or at the latest
  // at fsync().
  const int fd = open(Vol("e").c_str(), O_RDWR);
  ASSERT_GE(fd, 0);
  char c[512];
  errno = 0;
  EXPECT_EQ(pread(fd, c, sizeof c, static_cast<off_t>(bad)), -1);
  EXPECT_EQ(errno, EIO);
  std::memset(c, 1, sizeof c);
  const ssize_t w = pwrite(fd, c, sizeof c, static_cast<off_t>(bad));
  const int write_errno = errno;
  if (w < 0) {
    EXPECT_EQ(write_errno, EIO);
  } else {
    errno = 0;
    EXPECT_EQ(fsync(fd), -1);
    EXPECT_EQ(errno, EIO);
  }
  close(fd);
}

TEST_F(TargetsE2eTest, BadTargetArgumentsAreRefusedAndChangeNothing) {
  const std::string back = Backing("args.img", 1 << 20);
  struct Case {
    std::string table, error;
  };
  const Case cases[] = {
      {fmt::format("0 2048 delay {} 0 soon", back), "read delay (ms): 'soon'"},
      {fmt::format("0 2048 flakey {} 0 1 1 1 drop_everything", back),
       "unknown feature 'drop_everything'"},
      {fmt::format("0 2048 flakey {} 0 0 0", back), "total (up + down) interval is zero"},
      {fmt::format("0 2048 dust {} 0 1000", back), "blksz: 1000 is not a power of 2"},
  };
  for (const Case& c : cases) {
    auto r = Udm({"create", "bad", "--table", c.table});
    EXPECT_FALSE(r.ok()) << c.table;
    EXPECT_THAT(r.err, HasSubstr(c.error)) << c.table;
    EXPECT_FALSE(fs::exists(Vol("bad"))) << c.table;
  }
  // A failed load leaves the live table serving.
  UdmOk({"create", "ok", "--table", fmt::format("0 2048 flakey {} 0 180 0", back)});
  auto r = Udm({"load", "ok", "--table", fmt::format("0 2048 flakey {} 0 1 1 1 x", back)});
  EXPECT_FALSE(r.ok());
  EXPECT_THAT(r.err, HasSubstr("unknown feature 'x'"));
  EXPECT_EQ(UdmOk({"table", "ok"}),
            fmt::format("0 2048 flakey {} 0 180 0 2 error_reads error_writes\n", back));
}

}  // namespace
}  // namespace udm::test
