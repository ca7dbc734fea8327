// The mirror target through the real daemon: a mirror volume over a file
// and a stacked udm: volume, fio verifying on its FUSE file while the
// stacked leg is switched to an error table mid-run, the failure in the
// status line, resync after the leg returns (seen in watch snapshots too),
// and a disk log that survives kill -9 so only dirty regions resync.
#include <fcntl.h>
#include <signal.h>
#include <unistd.h>

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include <chrono>
#include <cstring>
#include <regex>
#include <thread>

#include <fmt/core.h>
#include <fmt/ranges.h>

#include "control/client.h"
#include "support/command.h"
#include "support/daemon_fixture.h"
#include "support/daemon_process.h"

namespace udm::test {
namespace {

using ::testing::HasSubstr;
using nlohmann::json;

constexpr uint64_t kLegBytes = 64ull << 20;
constexpr uint64_t kSectors = kLegBytes >> 9;
constexpr uint64_t kRegionSectors = 1024;  // 512 KiB
constexpr uint64_t kRegions = kSectors / kRegionSectors;
constexpr uint64_t kRegionBytes = kRegionSectors << 9;

class MirrorE2eTest : public DaemonFixture {
 protected:
  void SetUp() override {
    ASSERT_NO_FATAL_FAILURE(StartDaemon("udm-mirror"));
    a_ = Backing("a.img", kLegBytes);
    b_ = Backing("b.img", kLegBytes);
    log_ = Backing("log.img", 1 << 20);
  }

  CommandResult Udm(std::vector<std::string> args) { return daemon_->Udm(std::move(args)); }
  void UdmOk(std::vector<std::string> args) {
    auto r = Udm(args);
    ASSERT_TRUE(r.ok()) << fmt::format("udmsetup {}: {}", fmt::join(args, " "), r.err);
  }
  std::string LegTable(const std::string& target) const {
    return target == "error" ? fmt::format("0 {} error", kSectors)
                             : fmt::format("0 {} linear {} 0", kSectors, b_);
  }
  std::string MirrorTable() const {
    return fmt::format("0 {} mirror disk 2 {} {} 2 {} 0 udm:legb 0 1 handle_errors", kSectors,
                       log_, kRegionSectors, a_);
  }
  // Swaps legb's table the way an admin would: suspend, load, resume.
  void SwitchLeg(const std::string& target) {
    UdmOk({"suspend", "legb"});
    UdmOk({"load", "legb", "--table", LegTable(target)});
    UdmOk({"resume", "legb"});
  }
  std::string MirrorStatus() { return Udm({"status", "m"}).out; }
  // Regions in sync according to m's status line, or -1.
  long InSync() {
    std::smatch m;
    const std::string s = MirrorStatus();
    if (!std::regex_search(s, m, std::regex(fmt::format(" (\\d+)/{} 1 ", kRegions)))) return -1;
    return std::stol(m[1]);
  }
  bool WaitInSync(long want, int timeout_s = 120) {
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(timeout_s);
    while (std::chrono::steady_clock::now() < deadline) {
      if (InSync() == want) return true;
      std::this_thread::sleep_for(std::chrono::milliseconds(50));
    }
    return false;
  }
  // The disk log's clean bits (dm-log layout: bitmap from byte 1024).
  std::vector<bool> CleanBits() const {
    auto raw = ReadFileRange(log_, 1024, kRegions / 8);
    std::vector<bool> out(kRegions);
    for (uint64_t r = 0; r < kRegions && r / 8 < raw.size(); ++r) out[r] = (raw[r / 8] >> (r % 8)) & 1;
    return out;
  }
  static void Fill(const std::string& path, uint64_t off, uint64_t len, uint8_t byte) {
    const int fd = open(path.c_str(), O_WRONLY);
    ASSERT_GE(fd, 0) << path;
    std::vector<uint8_t> buf(len, byte);
    ASSERT_EQ(pwrite(fd, buf.data(), len, static_cast<off_t>(off)), static_cast<ssize_t>(len));
    ASSERT_EQ(fsync(fd), 0);
    close(fd);
  }

  std::string a_, b_, log_;
};

TEST_F(MirrorE2eTest, FioVerifiesCleanWhileALegFailsAndResyncBringsItBack) {
  UdmOk({"create", "legb", "--table", LegTable("linear")});
  UdmOk({"create", "m", "--table", MirrorTable()});
  EXPECT_EQ(Udm({"table", "m"}).out, MirrorTable() + "\n");
  ASSERT_TRUE(WaitInSync(kRegions)) << MirrorStatus();
  EXPECT_THAT(MirrorStatus(), HasSubstr(fmt::format("mirror 2 {} udm:legb {}/{} 1 AA 3 disk {} A",
                                                    a_, kRegions, kRegions, log_)));

  // fio writes at a bounded rate so that the leg fails in the middle of it.
  CommandResult fio;
  std::atomic<bool> fio_done{false};
  std::thread runner([&] {
    fio = RunCommand({"fio", "--name=m", "--filename=" + daemon_->volume("m"),
                      "--ioengine=io_uring", "--direct=1", "--iodepth=16", "--rw=randwrite",
                      "--bs=4k", "--size=48M", "--rate=16m", "--verify=crc32c", "--do_verify=1",
                      "--verify_state_save=0",
                      "--output-format=json"},
                     "", 600);
    fio_done = true;
  });
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(60);
  while (daemon_->UdmJson({"stats", "m"}).value("writes", 0) < 500 &&
         std::chrono::steady_clock::now() < deadline) {
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  SwitchLeg("error");
  const bool failed_mid_run = !fio_done.load();
  runner.join();
  EXPECT_TRUE(failed_mid_run) << "fio finished before the leg failed";
  ASSERT_TRUE(fio.ok()) << fio.err << fio.out;
  auto j = json::parse(fio.out.substr(fio.out.find('{')), nullptr, false);
  ASSERT_FALSE(j.is_discarded()) << fio.out;
  EXPECT_EQ(j["jobs"][0]["error"].get<int>(), 0);

  // The failed leg shows as dead and regions written since are out of sync.
  const std::string failed = MirrorStatus();
  EXPECT_THAT(failed, HasSubstr(" 1 AD 3 disk "));
  const long out_of_sync_start = InSync();
  EXPECT_LT(out_of_sync_start, static_cast<long>(kRegions)) << failed;
  EXPECT_GE(daemon_->UdmJson({"info", "m"}).value("event_nr", 0), 1) << "no event for the failure";

  // The leg comes back; reloading the mirror resyncs what it missed, and a
  // watcher sees the progress in m's status lines.
  SwitchLeg("linear");
  auto client = daemon::ControlClient::Connect(daemon_->socket());
  ASSERT_TRUE(client);
  client->set_timeout_ms(5000);
  ASSERT_TRUE(client->Call("watch", {{"interval_ms", 50}}));
  UdmOk({"reload", "m", "--table", MirrorTable()});
  UdmOk({"resume", "m"});
  std::string last_seen;
  for (int i = 0; i < 2400 && last_seen.find(fmt::format(" {0}/{0} 1 AA", kRegions)) == std::string::npos; ++i) {
    auto snap = client->ReadSnapshot(5000);
    ASSERT_TRUE(snap) << snap.error().message;
    for (const auto& v : (*snap)["volumes"]) {
      if (v["name"] == "m" && !v["status"].empty()) last_seen = v["status"][0].get<std::string>();
    }
  }
  EXPECT_THAT(last_seen, HasSubstr(fmt::format(" {0}/{0} 1 AA 3 disk", kRegions)));
  ASSERT_TRUE(WaitInSync(kRegions)) << MirrorStatus();
  EXPECT_TRUE(ReadFileRange(a_, 0, kLegBytes) == ReadFileRange(b_, 0, kLegBytes))
      << "the legs differ after resync";
}

TEST_F(MirrorE2eTest, DiskLogSurvivesKillSoOnlyDirtyRegionsResync) {
  UdmOk({"create", "legb", "--table", LegTable("linear")});
  UdmOk({"create", "m", "--table", MirrorTable()});
  ASSERT_TRUE(WaitInSync(kRegions)) << MirrorStatus();
  // Resynced regions are recorded clean once idle.
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(30);
  while (CleanBits() != std::vector<bool>(kRegions, true) &&
         std::chrono::steady_clock::now() < deadline) {
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  ASSERT_EQ(CleanBits(), std::vector<bool>(kRegions, true));

  // Region 7 falls out of sync while legb fails; legb comes back but m is
  // not reloaded, so region 7 stays dirty in the log.
  SwitchLeg("error");
  {
    const int fd = open(daemon_->volume("m").c_str(), O_WRONLY);
    ASSERT_GE(fd, 0);
    std::vector<uint8_t> buf(4096, 0x5e);
    ASSERT_EQ(pwrite(fd, buf.data(), buf.size(), static_cast<off_t>(7 * kRegionBytes)), 4096);
    ASSERT_EQ(fsync(fd), 0);
    close(fd);
  }
  EXPECT_THAT(MirrorStatus(), HasSubstr(fmt::format(" {}/{} 1 AD ", kRegions - 1, kRegions)));
  SwitchLeg("linear");
  EXPECT_FALSE(CleanBits()[7]);

  daemon_->Stop(SIGKILL);  // exits by the signal, so never "0 in time"
  // Behind the daemon's back: a clean region's copy on b changes (a full
  // resync would overwrite it), and region 7's copy on b is stale anyway.
  Fill(b_, 5 * kRegionBytes, 4096, 0xcc);
  ASSERT_TRUE(daemon_->Start()) << daemon_->log();
  ASSERT_TRUE(WaitInSync(kRegions)) << MirrorStatus();
  EXPECT_THAT(MirrorStatus(), HasSubstr(" 1 AA 3 disk "));
  EXPECT_EQ(ReadFileRange(b_, 7 * kRegionBytes, kRegionBytes),
            ReadFileRange(a_, 7 * kRegionBytes, kRegionBytes))
      << "the dirty region was not resynced";
  EXPECT_EQ(ReadFileRange(b_, 5 * kRegionBytes, 4096), std::vector<uint8_t>(4096, 0xcc))
      << "a clean region was copied again: the log was not kept";
}

TEST_F(MirrorE2eTest, ReadsFromAFailingLegAreRequeuedToTheOther) {
  UdmOk({"create", "legb", "--table", LegTable("linear")});
  UdmOk({"create", "m", "--table", MirrorTable()});
  ASSERT_TRUE(WaitInSync(kRegions)) << MirrorStatus();
  std::vector<uint8_t> pattern(8 << 20);
  for (size_t i = 0; i < pattern.size(); ++i) pattern[i] = static_cast<uint8_t>(i * 31 + (i >> 12));
  const int fd = open(daemon_->volume("m").c_str(), O_RDWR | O_DIRECT);
  ASSERT_GE(fd, 0);
  void* mem = nullptr;
  ASSERT_EQ(posix_memalign(&mem, 4096, pattern.size()), 0);
  std::unique_ptr<uint8_t, decltype(&free)> buf(static_cast<uint8_t*>(mem), &free);
  std::memcpy(buf.get(), pattern.data(), pattern.size());
  ASSERT_EQ(pwrite(fd, buf.get(), pattern.size(), 0), static_cast<ssize_t>(pattern.size()));
  ASSERT_EQ(fsync(fd), 0);

  // Only reads now: half of them land on legb, fail, and are retried on a.
  SwitchLeg("error");
  const uint64_t requeues_before = daemon_->UdmJson({"stats", "m"}).value("requeues", 0);
  for (size_t off = 0; off < pattern.size(); off += 64 << 10) {
    std::memset(buf.get(), 0, 64 << 10);
    ASSERT_EQ(pread(fd, buf.get(), 64 << 10, static_cast<off_t>(off)), 64 << 10) << off;
    ASSERT_EQ(std::memcmp(buf.get(), pattern.data() + off, 64 << 10), 0) << off;
  }
  close(fd);
  EXPECT_GT(daemon_->UdmJson({"stats", "m"}).value("requeues", 0), requeues_before);
  EXPECT_THAT(MirrorStatus(), HasSubstr(fmt::format(" {0}/{0} 1 AR 3 disk", kRegions)));
  SwitchLeg("linear");
}

}  // namespace
}  // namespace udm::test
