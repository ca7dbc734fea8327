// The whole daemon, really started: udmd on a temporary state directory,
// driven by udmsetup, volumes used through their FUSE files by losetup,
// mkfs, mount, fsck and fio, then killed with -9 and restarted.
#include <fcntl.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include <chrono>
#include <cstring>
#include <filesystem>
#include <future>
#include <fstream>
#include <random>
#include <thread>

#include <fmt/core.h>

#include "control/client.h"
#include "support/command.h"
#include "support/daemon_fixture.h"
#include "support/daemon_process.h"
#include "udm/table.h"

namespace udm::test {
namespace {

namespace fs = std::filesystem;
using ::testing::HasSubstr;
using nlohmann::json;

constexpr uint64_t kFileBytes = 16ull << 20;  // each backing file

class DaemonTest : public DaemonFixture {
 protected:
  void SetUp() override {
    ASSERT_NO_FATAL_FAILURE(StartDaemon("udm-daemon"));
    a_ = dir_ + "/a.img";
    b_ = dir_ + "/b.img";
    for (const auto& f : {a_, b_}) MakeSparseFile(f, kFileBytes);
  }

  CommandResult Udm(std::vector<std::string> args, const std::string& input = "") {
    return daemon_->Udm(std::move(args), input);
  }
  json UdmJson(std::vector<std::string> args) {
    json j = daemon_->UdmJson(args);
    EXPECT_FALSE(j.is_null() || j.is_discarded()) << "udmsetup --json failed";
    return j;
  }
  std::string TwoFileTable() const {
    return fmt::format("0 32768 linear {} 0\n32768 32768 linear {} 0", a_, b_);
  }
  std::string a_, b_;
};

std::vector<uint8_t> ReadFile(const std::string& path, uint64_t off, size_t len) {
  auto buf = ReadFileRange(path, off, len);
  EXPECT_EQ(buf.size(), len) << path;
  return buf;
}

TEST_F(DaemonTest, VolumeFileMapsByteForByteOntoTwoBackingFiles) {
  ASSERT_TRUE(Udm({"create", "v", "--table", TwoFileTable()}).ok());
  const std::string file = Vol("v");
  struct stat st {};
  ASSERT_EQ(stat(file.c_str(), &st), 0);
  EXPECT_EQ(static_cast<uint64_t>(st.st_size), 2 * kFileBytes);
  EXPECT_EQ(st.st_mode & 0777, 0600u);

  std::vector<uint8_t> model(2 * kFileBytes, 0);
  std::mt19937 rng(42);
  const int fd = open(file.c_str(), O_RDWR);
  ASSERT_GE(fd, 0);
  for (int i = 0; i < 400; ++i) {
    const uint64_t len = std::uniform_int_distribution<uint64_t>(1, 70000)(rng);
    const uint64_t off = std::uniform_int_distribution<uint64_t>(0, 2 * kFileBytes - len)(rng);
    std::vector<uint8_t> data(len);
    for (auto& b : data) b = static_cast<uint8_t>(rng());
    ASSERT_EQ(pwrite(fd, data.data(), len, static_cast<off_t>(off)), static_cast<ssize_t>(len));
    std::memcpy(&model[off], data.data(), len);
  }
  ASSERT_EQ(fsync(fd), 0);
  std::vector<uint8_t> back(2 * kFileBytes);
  ASSERT_EQ(pread(fd, back.data(), back.size(), 0), static_cast<ssize_t>(back.size()));
  close(fd);
  EXPECT_TRUE(back == model) << "reads through the file differ from what was written";
  EXPECT_TRUE(ReadFile(a_, 0, kFileBytes) == std::vector<uint8_t>(model.begin(), model.begin() + kFileBytes));
  EXPECT_TRUE(ReadFile(b_, 0, kFileBytes) == std::vector<uint8_t>(model.begin() + kFileBytes, model.end()));
  // Past the end: ENOSPC for writes, short reads.
  const int fd2 = open(file.c_str(), O_RDWR);
  char c = 1;
  EXPECT_EQ(pwrite(fd2, &c, 1, static_cast<off_t>(2 * kFileBytes)), -1);
  EXPECT_EQ(errno, ENOSPC);
  EXPECT_EQ(pread(fd2, &c, 1, static_cast<off_t>(2 * kFileBytes)), 0);
  close(fd2);
}

void MkfsMountCheck(DaemonTest* t, const std::string& dev, const std::string& fstype,
                    const std::string& mnt, std::vector<std::string>* mounts) {
  const bool xfs = fstype == "xfs";
  auto mk = RunCommand({xfs ? "mkfs.xfs" : "mkfs.ext4", xfs ? "-f" : "-F", "-q", dev}, "", 120);
  ASSERT_TRUE(mk.ok()) << mk.err;
  fs::create_directories(mnt);
  auto mounted = RunCommand({"mount", dev, mnt});
  ASSERT_TRUE(mounted.ok()) << mounted.err;
  mounts->push_back(mnt);
  auto wr = RunShell("for i in $(seq 1 20); do head -c 300000 /dev/urandom > " + mnt +
                     "/f$i; done; sha256sum " + mnt + "/f* > " + mnt + "/../sums && sync");
  ASSERT_TRUE(wr.ok()) << wr.err;
  ASSERT_TRUE(RunCommand({"umount", mnt}).ok());
  mounts->pop_back();
  auto fsck = xfs ? RunCommand({"xfs_repair", "-n", dev}, "", 120)
                  : RunCommand({"e2fsck", "-fn", dev}, "", 120);
  EXPECT_TRUE(fsck.ok()) << fsck.out << fsck.err;
  ASSERT_TRUE(RunCommand({"mount", dev, mnt}).ok());
  mounts->push_back(mnt);
  auto check = RunShell("sha256sum -c --quiet " + mnt + "/../sums");
  EXPECT_TRUE(check.ok()) << check.out << check.err;
  ASSERT_TRUE(RunCommand({"umount", mnt}).ok());
  mounts->pop_back();
  (void)t;
}

TEST_F(DaemonTest, Ext4AndXfsOnLoopDevicesBufferedAndDirect) {
  // mkfs.xfs wants 300 MB: two sparse 200 MiB files.
  const std::string c = dir_ + "/c.img", d = dir_ + "/d.img";
  for (const auto& f : {c, d}) {
    std::ofstream(f).close();
    fs::resize_file(f, 200ull << 20);
  }
  ASSERT_TRUE(Udm({"create", "v", "--table",
                   fmt::format("0 409600 linear {} 0\n409600 409600 linear {} 0", c, d)})
                  .ok());
  for (bool direct : {false, true}) {
    for (const std::string fstype : {"ext4", "xfs"}) {
      SCOPED_TRACE(fstype + (direct ? " direct-io" : " buffered"));
      const std::string dev = Loop(Vol("v"), direct);
      MkfsMountCheck(this, dev, fstype, dir_ + "/fsmnt", &mounts_);
      ASSERT_TRUE(RunCommand({"losetup", "-d", dev}).ok());
      loops_.pop_back();
    }
  }
}

TEST_F(DaemonTest, FioVerifiesCleanDirectAndBuffered) {
  ASSERT_TRUE(Udm({"create", "v", "--table", TwoFileTable()}).ok());
  auto direct = RunCommand({"fio", "--name=d", "--filename=" + Vol("v"), "--ioengine=io_uring",
                            "--direct=1", "--iodepth=32", "--rw=randwrite", "--bs=4k", "--size=24M",
                            "--verify=crc32c", "--do_verify=1", "--verify_state_save=0",
                            "--output-format=json"},
                           "", 300);
  ASSERT_TRUE(direct.ok()) << direct.err;
  auto j = json::parse(direct.out.substr(direct.out.find('{')), nullptr, false);
  ASSERT_FALSE(j.is_discarded());
  EXPECT_EQ(j["jobs"][0]["error"].get<int>(), 0);
  auto buffered = RunCommand({"fio", "--name=b", "--filename=" + Vol("v"), "--ioengine=psync",
                              "--rw=randwrite", "--bs=4k", "--size=8M", "--fsync=8",
                              "--verify=crc32c", "--do_verify=1", "--verify_state_save=0"},
                             "", 300);
  EXPECT_TRUE(buffered.ok()) << buffered.err;
}

TEST_F(DaemonTest, SuspendHoldsWritesAndResumeLandsThemInTheNewTable) {
  ASSERT_TRUE(Udm({"create", "v", "--table", fmt::format("0 32768 linear {} 0", a_)}).ok());
  ASSERT_TRUE(Udm({"suspend", "v"}).ok());
  EXPECT_EQ(UdmJson({"info", "v"})["state"], "SUSPENDED");
  std::atomic<bool> done{false};
  std::thread writer([&] {
    const int fd = open(Vol("v").c_str(), O_RDWR | O_DIRECT);
    alignas(4096) static uint8_t buf[4096];
    std::memset(buf, 0xab, sizeof buf);
    EXPECT_EQ(pwrite(fd, buf, sizeof buf, 8192), 4096);
    close(fd);
    done = true;
  });
  std::this_thread::sleep_for(std::chrono::seconds(1));
  EXPECT_FALSE(done.load()) << "a write completed on a suspended volume";
  // A failed load leaves no inactive table.
  auto bad = Udm({"load", "v", "--table", "0 100 linear /nonexistent/file 0"});
  EXPECT_FALSE(bad.ok());
  EXPECT_THAT(bad.err, HasSubstr("/nonexistent/file"));
  EXPECT_FALSE(UdmJson({"info", "v"})["inactive_table"].get<bool>());
  ASSERT_TRUE(Udm({"load", "v", "--table", fmt::format("0 32768 linear {} 0", b_)}).ok());
  EXPECT_TRUE(UdmJson({"info", "v"})["inactive_table"].get<bool>());
  ASSERT_TRUE(Udm({"resume", "v"}).ok());
  writer.join();
  EXPECT_TRUE(done.load());
  EXPECT_EQ(ReadFile(b_, 8192, 1)[0], 0xab) << "the held write did not land in the new table";
  EXPECT_EQ(ReadFile(a_, 8192, 1)[0], 0);
  auto table = Udm({"table", "v"});
  EXPECT_THAT(table.out, HasSubstr(b_));
}

TEST_F(DaemonTest, KillNineAndRestartBringsEverythingBack) {
  ASSERT_TRUE(Udm({"create", "v", "--table", TwoFileTable(), "--barriers", "ordered"}).ok());
  ASSERT_TRUE(Udm({"create", "w", "--table", fmt::format("0 1024 zero")}).ok());
  ASSERT_TRUE(Udm({"load", "w", "--table", fmt::format("0 2048 linear {} 0", b_)}).ok());
  const int fd = open(Vol("v").c_str(), O_RDWR);
  std::vector<uint8_t> data(1 << 20);
  std::mt19937 rng(1);
  for (auto& b : data) b = static_cast<uint8_t>(rng());
  ASSERT_EQ(pwrite(fd, data.data(), data.size(), 12345), static_cast<ssize_t>(data.size()));
  ASSERT_EQ(fdatasync(fd), 0);
  close(fd);
  ASSERT_FALSE(daemon_->Stop(SIGKILL));
  ASSERT_TRUE(daemon_->Start()) << daemon_->log();
  auto v = UdmJson({"info", "v"});
  EXPECT_EQ(v["state"], "ACTIVE");
  EXPECT_EQ(v["barriers"], "ordered");
  auto w = UdmJson({"info", "w"});
  EXPECT_TRUE(w["live_table"].get<bool>());
  EXPECT_TRUE(w["inactive_table"].get<bool>());
  EXPECT_THAT(Udm({"table", "--inactive", "w"}).out, HasSubstr(b_));
  EXPECT_TRUE(ReadFile(Vol("v"), 12345, data.size()) == data) << "fsynced data lost";
}

// The largest tables make files of just under 8 EiB; the mount's size
// (statfs) saturates rather than wrapping around.
TEST_F(DaemonTest, TheLargestVolumesAreServedAndStatfsSaturates) {
  const std::string table = fmt::format("0 {} zero", kMaxTableSectors);
  for (const char* name : {"huge1", "huge2", "huge3"}) {  // 3 x 8 EiB > 2^64 bytes
    ASSERT_TRUE(Udm({"create", name, "--table", table}).ok());
  }
  struct stat st{};
  ASSERT_EQ(stat(Vol("huge1").c_str(), &st), 0);
  EXPECT_EQ(static_cast<uint64_t>(st.st_size), kMaxTableSectors * 512);
  EXPECT_TRUE(ReadFile(Vol("huge1"), st.st_size - 4096, 4096) == std::vector<uint8_t>(4096, 0));
  struct statvfs sv{};
  ASSERT_EQ(statvfs(fs::path(Vol("huge1")).parent_path().c_str(), &sv), 0);
  EXPECT_EQ(sv.f_blocks, UINT64_MAX / sv.f_frsize);
}

TEST_F(DaemonTest, BadInputIsRefusedWithAMessageAndChangesNothing) {
  ASSERT_TRUE(Udm({"create", "v", "--table", fmt::format("0 1024 linear {} 0", a_)}).ok());
  const std::string before = Udm({"--json", "info"}).out;
  const std::vector<std::pair<std::vector<std::string>, std::string>> cases = {
      {{"create", "x", "--table", "0 100 linear"}, "line 1"},
      {{"create", "x", "--table", "8 100 zero"}, "sector 0"},
      {{"create", "x", "--table", "0 100 zero\n200 100 zero"}, "gap"},
      {{"create", "x", "--table", "0 100 zero\n50 100 zero"}, "overlap"},
      {{"create", "x", "--table", "0 0 zero"}, "length"},
      {{"create", "x", "--table", "0 99999999999999999999 zero"}, "64 bits"},
      {{"create", "x", "--table", "0 18014398509481984 zero"}, "largest volume"},
      {{"create", "x", "--table", "0 100 frobnicate"}, "frobnicate"},
      {{"create", "x", "--table", "0 100 linear /no/such/file 0"}, "/no/such/file"},
      {{"create", "x", "--table", fmt::format("0 99999 linear {} 0", a_)}, "too small"},
      {{"create", "x", "--table", "0 100 striped 2 7 /a 0 /b 0"}, "chunk"},
      {{"create", "v", "--table", "0 100 zero"}, "already exists"},
      {{"create", "a/b", "--table", "0 100 zero"}, "/"},
      {{"create", "", "--table", "0 100 zero"}, "empty"},
      {{"suspend", "nosuch"}, "nosuch"},
      {{"resume", "nosuch"}, "nosuch"},
      {{"remove", "nosuch"}, "nosuch"},
      {{"table", "nosuch"}, "nosuch"},
      {{"status", "nosuch"}, "nosuch"},
      {{"info", "nosuch"}, "nosuch"},
      {{"load", "nosuch", "--table", "0 1 zero"}, "nosuch"},
      {{"rename", "nosuch", "y"}, "nosuch"},
      {{"message", "v", "0", "hello"}, "message"},
      {{"message", "nosuch", "0", "hello"}, "nosuch"},
      {{"clear", "nosuch"}, "nosuch"},
      {{"deps", "nosuch"}, "nosuch"},
      {{"stats", "nosuch"}, "nosuch"},
      {{"wait", "nosuch"}, "nosuch"},
      {{"create", "x", "--barriers", "sometimes", "--table", "0 8 zero"}, "sometimes"},
      {{"frobnicate"}, "frobnicate"},
  };
  for (const auto& [args, want] : cases) {
    auto r = Udm(args);
    EXPECT_NE(r.exit_code, 0) << ::testing::PrintToString(args);
    EXPECT_THAT(r.err, HasSubstr(want)) << ::testing::PrintToString(args);
  }
  EXPECT_EQ(Udm({"--json", "info"}).out, before) << "a refused command changed something";
}

TEST_F(DaemonTest, GarbageOnTheSocketLeavesTheDaemonServing) {
  std::mt19937 rng(3);
  for (int i = 0; i < 20; ++i) {
    const int s = socket(AF_UNIX, SOCK_STREAM, 0);
    sockaddr_un addr{};
    addr.sun_family = AF_UNIX;
    std::strncpy(addr.sun_path, daemon_->socket().c_str(), sizeof addr.sun_path - 1);
    ASSERT_EQ(connect(s, reinterpret_cast<sockaddr*>(&addr), sizeof addr), 0);
    std::string junk = i % 3 == 0 ? std::string(3 << 20, 'x')
                       : i % 3 == 1 ? "{\"id\":1,\"method\":\"create\",\"params\":{\"name\":7}}\n{{{\n"
                                    : std::string(4096, '\0');
    if (i % 3 == 2) {
      for (auto& c : junk) c = static_cast<char>(rng());
    }
    (void)send(s, junk.data(), junk.size(), MSG_NOSIGNAL);
    close(s);
  }
  EXPECT_TRUE(Udm({"version"}).ok());
  EXPECT_TRUE(Udm({"create", "ok", "--table", "0 8 zero"}).ok());
}

TEST_F(DaemonTest, StackedVolumesWorkAndAHeldVolumeCannotBeRemoved) {
  ASSERT_TRUE(Udm({"create", "base", "--table", TwoFileTable()}).ok());
  ASSERT_TRUE(Udm({"create", "top", "--table", "0 2048 linear udm:base 4096"}).ok());
  const int fd = open(Vol("top").c_str(), O_RDWR);
  const char msg[] = "stacked in-process";
  ASSERT_EQ(pwrite(fd, msg, sizeof msg, 0), static_cast<ssize_t>(sizeof msg));
  ASSERT_EQ(fsync(fd), 0);
  close(fd);
  EXPECT_EQ(std::memcmp(ReadFile(a_, 4096 * 512, sizeof msg).data(), msg, sizeof msg), 0);
  auto rm = Udm({"remove", "base"});
  EXPECT_NE(rm.exit_code, 0);
  EXPECT_THAT(rm.err, HasSubstr("top"));
  EXPECT_THAT(Udm({"deps", "top"}).out, HasSubstr("udm:base"));
  ASSERT_TRUE(Udm({"remove", "top"}).ok());
  ASSERT_TRUE(Udm({"remove", "base"}).ok());
  EXPECT_FALSE(fs::exists(Vol("base")));
}

TEST_F(DaemonTest, SuspendResumeCyclesUnderConcurrentWritersLoseNothing) {
  ASSERT_TRUE(Udm({"create", "v", "--table", TwoFileTable()}).ok());
  constexpr int kWriters = 3, kBlocks = 256;
  std::atomic<bool> stop{false};
  std::vector<std::vector<uint32_t>> last(kWriters, std::vector<uint32_t>(kBlocks, 0));
  std::vector<std::thread> writers;
  std::atomic<int> errors{0}, writes{0};
  for (int w = 0; w < kWriters; ++w) {
    writers.emplace_back([&, w] {
      const int fd = open(Vol("v").c_str(), O_RDWR | (w == 0 ? O_DIRECT : 0));
      alignas(4096) static thread_local uint8_t buf[4096];
      std::mt19937 rng(w);
      for (uint32_t gen = 1; !stop.load(); ++gen) {
        const int block = static_cast<int>(rng() % kBlocks);
        std::memset(buf, 0, sizeof buf);
        std::memcpy(buf, &gen, sizeof gen);
        const off_t off = static_cast<off_t>((w * kBlocks + block) * 4096);
        if (pwrite(fd, buf, sizeof buf, off) != 4096) ++errors;
        if (gen % 16 == 0 && fdatasync(fd) != 0) ++errors;
        last[w][block] = gen;
        ++writes;
      }
      close(fd);
    });
  }
  // At least 15 cycles, and on until the writers have done real work.
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(60);
  for (int cycle = 0; cycle < 15 || (writes.load() < 300 && std::chrono::steady_clock::now() < deadline);
       ++cycle) {
    auto suspended = cycle % 2 ? Udm({"suspend", "--noflush", "v"}) : Udm({"suspend", "v"});
    ASSERT_TRUE(suspended.ok()) << suspended.err;
    if (cycle % 3 == 0) {
      ASSERT_TRUE(Udm({"load", "v", "--table", TwoFileTable()}).ok());
    }
    ASSERT_TRUE(Udm({"resume", "v"}).ok());
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  stop = true;
  for (auto& t : writers) t.join();
  EXPECT_EQ(errors.load(), 0);
  EXPECT_GT(writes.load(), 300) << "the writers barely ran across the cycles";
  for (int w = 0; w < kWriters; ++w) {
    auto data = ReadFile(Vol("v"), static_cast<uint64_t>(w * kBlocks) * 4096, kBlocks * 4096);
    for (int b = 0; b < kBlocks; ++b) {
      uint32_t got;
      std::memcpy(&got, &data[static_cast<size_t>(b) * 4096], sizeof got);
      ASSERT_EQ(got, last[w][b]) << "writer " << w << " block " << b;
    }
  }
}

TEST_F(DaemonTest, WaitReturnsOnTheNextEventAndWatchStreamsState) {
  ASSERT_TRUE(Udm({"create", "v", "--table", "0 2048 zero"}).ok());
  CommandResult waited;
  std::thread waiter([&] { waited = Udm({"wait", "v"}); });
  std::this_thread::sleep_for(std::chrono::milliseconds(300));
  ASSERT_TRUE(Udm({"suspend", "v"}).ok());
  waiter.join();
  EXPECT_TRUE(waited.ok()) << waited.err;

  auto client = daemon::ControlClient::Connect(daemon_->socket());
  ASSERT_TRUE(client) << client.error().message;
  ASSERT_TRUE(client->Call("watch", {{"interval_ms", 50}}));
  auto first = client->ReadSnapshot(2000);
  ASSERT_TRUE(first) << first.error().message;
  auto second = client->ReadSnapshot(2000);
  ASSERT_TRUE(second) << second.error().message;
  EXPECT_GT((*second)["time_ms"].get<uint64_t>(), (*first)["time_ms"].get<uint64_t>());
  const json& vol = (*second)["volumes"][0];
  EXPECT_EQ(vol["name"], "v");
  EXPECT_EQ(vol["state"], "SUSPENDED");
  EXPECT_TRUE(vol.contains("deferred"));
  EXPECT_TRUE(vol.contains("barrier_latency_us"));
  ASSERT_TRUE(Udm({"resume", "v"}).ok());
}

// The stats reply carries the latency histogram: the buckets hold every
// completed flush and barrier, in ascending order.
TEST_F(DaemonTest, StatsExportTheLatencyHistogram) {
  ASSERT_TRUE(Udm({"create", "v", "--table", TwoFileTable(), "--barriers", "ordered"}).ok());
  const int fd = open(Vol("v").c_str(), O_RDWR);
  ASSERT_GE(fd, 0);
  std::vector<char> block(4096, 'h');
  for (int i = 0; i < 4; ++i) {
    ASSERT_EQ(pwrite(fd, block.data(), block.size(), i * 4096), 4096);
    ASSERT_EQ(fsync(fd), 0);
  }
  close(fd);
  json s = UdmJson({"stats", "v"});
  ASSERT_TRUE(s.is_object()) << s.dump();
  const json& h = s["barrier_latency_histogram"];
  ASSERT_TRUE(h.is_array() && !h.empty()) << s.dump(2);
  uint64_t total = 0, prev_le = 0;
  for (const json& b : h) {
    EXPECT_GT(b["le_us"].get<uint64_t>(), prev_le) << h.dump();
    EXPECT_GT(b["count"].get<uint64_t>(), 0u) << h.dump();
    prev_le = b["le_us"].get<uint64_t>();
    total += b["count"].get<uint64_t>();
  }
  EXPECT_EQ(total, s["barrier_latency_us"]["count"].get<uint64_t>());
  EXPECT_GE(total, 4u);
  EXPECT_GE(prev_le, s["barrier_latency_us"]["max"].get<uint64_t>());
}

TEST_F(DaemonTest, SigtermWithStackedVolumesShutsDownCleanly) {
  // "base" sorts before "top": the lower volume must still be suspended last.
  ASSERT_TRUE(Udm({"create", "base", "--table", TwoFileTable()}).ok());
  ASSERT_TRUE(Udm({"create", "top", "--table", "0 2048 linear udm:base 0"}).ok());
  const int fd = open(Vol("top").c_str(), O_RDWR);
  const char msg[] = "flushed on the way down";
  ASSERT_EQ(pwrite(fd, msg, sizeof msg, 0), static_cast<ssize_t>(sizeof msg));
  close(fd);
  EXPECT_TRUE(daemon_->Stop(SIGTERM)) << daemon_->log();
  EXPECT_EQ(std::memcmp(ReadFile(a_, 0, sizeof msg).data(), msg, sizeof msg), 0);
  struct stat st {};
  EXPECT_NE(stat(Vol("top").c_str(), &st), 0) << "still mounted after shutdown";
  ASSERT_TRUE(daemon_->Start()) << daemon_->log();
}

TEST_F(DaemonTest, ForcedRemoveFailsIoOnStillOpenFiles) {
  ASSERT_TRUE(Udm({"create", "v", "--table", TwoFileTable()}).ok());
  const int fd = open(Vol("v").c_str(), O_RDWR | O_DIRECT);
  ASSERT_GE(fd, 0);
  auto refused = Udm({"remove", "v"});
  EXPECT_NE(refused.exit_code, 0);
  EXPECT_THAT(refused.err, HasSubstr("open"));
  ASSERT_TRUE(Udm({"remove", "--force", "v"}).ok());
  alignas(4096) static uint8_t buf[4096];
  EXPECT_EQ(pread(fd, buf, sizeof buf, 0), -1);
  EXPECT_EQ(errno, EIO);
  close(fd);
  EXPECT_FALSE(Udm({"info", "v"}).ok());
  EXPECT_TRUE(Udm({"create", "v", "--table", "0 8 zero"}).ok());  // the daemon is fine
}

// The same for a read-only volume, and for a reader held by a suspend: it
// gets EIO instead of waiting for a resume that can no longer come.
TEST_F(DaemonTest, ForcedRemoveFailsIoOnAReadOnlySuspendedVolume) {
  ASSERT_TRUE(Udm({"create", "ro", "--readonly", "--table", TwoFileTable()}).ok());
  const int fd = open(Vol("ro").c_str(), O_RDONLY | O_DIRECT);
  ASSERT_GE(fd, 0);
  alignas(4096) static uint8_t buf[4096];
  ASSERT_EQ(pread(fd, buf, sizeof buf, 0), static_cast<ssize_t>(sizeof buf));
  ASSERT_TRUE(Udm({"suspend", "ro"}).ok());
  auto held = std::async(std::launch::async, [&] {
    const ssize_t n = pread(fd, buf, sizeof buf, 4096);
    return n < 0 ? -errno : static_cast<int>(n);
  });
  EXPECT_EQ(held.wait_for(std::chrono::milliseconds(200)), std::future_status::timeout);
  ASSERT_TRUE(Udm({"remove", "--force", "ro"}).ok());
  if (held.wait_for(std::chrono::seconds(10)) != std::future_status::ready) {
    daemon_->Stop(SIGKILL);  // ends the read (ENOTCONN), so `held` can be destroyed
    FAIL() << "the held read still waits after remove --force";
  }
  EXPECT_EQ(held.get(), -EIO);
  EXPECT_EQ(pread(fd, buf, sizeof buf, 0), -1);
  EXPECT_EQ(errno, EIO);
  close(fd);
}

TEST_F(DaemonTest, SizeChangesAfterResumeAreVisibleAtOnce) {
  ASSERT_TRUE(Udm({"create", "v", "--table", "0 1024 zero"}).ok());
  struct stat st {};
  ASSERT_EQ(stat(Vol("v").c_str(), &st), 0);
  EXPECT_EQ(st.st_size, 1024 * 512);
  ASSERT_TRUE(Udm({"load", "v", "--table", "0 4096 zero"}).ok());
  ASSERT_TRUE(Udm({"resume", "v"}).ok());
  ASSERT_EQ(stat(Vol("v").c_str(), &st), 0);
  EXPECT_EQ(st.st_size, 4096 * 512);
  ASSERT_TRUE(Udm({"load", "v", "--table", "0 8 zero"}).ok());
  ASSERT_TRUE(Udm({"resume", "v"}).ok());
  ASSERT_EQ(stat(Vol("v").c_str(), &st), 0);
  EXPECT_EQ(st.st_size, 8 * 512);
}

}  // namespace
}  // namespace udm::test
