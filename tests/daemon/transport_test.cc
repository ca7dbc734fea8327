// The two ways FUSE requests reach udmd, each through the real daemon:
// /dev/fuse (--fuse-transport dev) and FUSE over io_uring (uring). Each
// must carry the same I/O correctly: fio with verification at several
// block sizes and queue depths, ext4 on a loop device, a write held by a
// suspended volume and answered from another thread after the resume,
// and a shutdown with files still open. With the ring, the queue threads'
// placement too.
#include <fcntl.h>
#include <sched.h>
#include <signal.h>
#include <unistd.h>

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include <atomic>
#include <chrono>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <set>
#include <sstream>
#include <thread>

#include <fmt/core.h>

#include "support/command.h"
#include "support/daemon_fixture.h"
#include "support/daemon_process.h"

namespace udm::test {
namespace {

using ::testing::HasSubstr;
using ::testing::Not;
using nlohmann::json;

constexpr char kUringParam[] = "/sys/module/fuse/parameters/enable_uring";
constexpr uint64_t kFileBytes = 64ull << 20;  // each of the two backing files

std::string ReadParam() {
  std::ifstream in(kUringParam);
  std::string v;
  in >> v;
  return v;
}

// Turns FUSE over io_uring on for the run (udmd never changes kernel
// parameters itself) and puts the old value back at the end.
class UringParam : public ::testing::Environment {
 public:
  void SetUp() override {
    saved_ = ReadParam();
    if (!saved_.empty() && saved_ != "Y") std::ofstream(kUringParam) << "Y";
  }
  void TearDown() override {
    if (!saved_.empty() && saved_ != "Y") std::ofstream(kUringParam) << saved_;
  }

 private:
  std::string saved_;
};
[[maybe_unused]] const auto* const kUringEnv = ::testing::AddGlobalTestEnvironment(new UringParam);

class TransportTest : public DaemonFixture, public ::testing::WithParamInterface<std::string> {
 protected:
  void SetUp() override {
    if (GetParam() == "uring" && ReadParam() != "Y") {
      GTEST_SKIP() << "this kernel has no FUSE over io_uring (" << kUringParam << ")";
    }
    dir_ = MakeTempDir("udm-transport");
    ASSERT_FALSE(dir_.empty());
    daemon_ = std::make_unique<DaemonProcess>(dir_, DaemonPaths{UDMD_PATH, UDMSETUP_PATH});
    ASSERT_TRUE(daemon_->Start({"--fuse-transport", GetParam()})) << daemon_->log();
    a_ = dir_ + "/a.img";
    b_ = dir_ + "/b.img";
    for (const auto& f : {a_, b_}) MakeSparseFile(f, kFileBytes);
    // 96 MiB: striped over the first halves of both files (requests split
    // across them, 1 MiB ones into many pieces), then linear over the
    // second half of a.
    const uint64_t file = kFileBytes >> 9;  // sectors
    auto made = daemon_->Udm({"create", "v", "--table",
                              fmt::format("0 {} striped 2 128 {} 0 {} 0\n{} {} linear {} {}", file,
                                          a_, b_, file, file / 2, a_, file / 2)});
    ASSERT_TRUE(made.ok()) << made.err;
  }

  // fio on the volume file; the job's error (0 when verify passed).
  int Fio(std::vector<std::string> args) {
    std::vector<std::string> cmd = {"fio", "--name=t", "--filename=" + Vol("v"),
                                    "--verify=crc32c", "--do_verify=1", "--verify_fatal=1",
                                    "--verify_state_save=0", "--output-format=json"};
    cmd.insert(cmd.end(), args.begin(), args.end());
    auto r = RunCommand(cmd, "", 300);
    EXPECT_TRUE(r.ok()) << r.out << r.err;
    const size_t brace = r.out.find('{');
    if (brace == std::string::npos) return -1;
    auto j = json::parse(r.out.substr(brace), nullptr, false);
    if (j.is_discarded()) return -1;
    return j["jobs"][0]["error"].get<int>();
  }

  std::string a_, b_;
};

TEST_P(TransportTest, LogNamesTheTransportInUse) {
  if (GetParam() == "uring") {
    EXPECT_THAT(daemon_->log(), HasSubstr("served through io_uring"));
    EXPECT_THAT(daemon_->log(), Not(HasSubstr("served through /dev/fuse")));
  } else {
    EXPECT_THAT(daemon_->log(), HasSubstr("served through /dev/fuse"));
    EXPECT_THAT(daemon_->log(), Not(HasSubstr("io_uring")));
  }
}

TEST_P(TransportTest, FioVerifiesAtEveryBlockSizeAndDepth) {
  // Direct and asynchronous: many requests in flight, sizes from one
  // sector (read-modify-write under the range lock) up to max_write.
  EXPECT_EQ(Fio({"--ioengine=io_uring", "--direct=1", "--iodepth=32", "--rw=randrw",
                 "--bsrange=512-128k", "--size=48M"}),
            0);
  EXPECT_EQ(Fio({"--ioengine=libaio", "--direct=1", "--iodepth=8", "--rw=write", "--bs=1M",
                 "--size=96M"}),
            0);
  // Buffered, unaligned sizes, with fsyncs.
  EXPECT_EQ(Fio({"--ioengine=psync", "--rw=randwrite", "--bsrange=100-9000", "--size=8M",
                 "--fsync=16"}),
            0);
}

TEST_P(TransportTest, Ext4OnADirectLoopDeviceSurvivesFsck) {
  const std::string dev = Loop(Vol("v"), true);
  ASSERT_FALSE(dev.empty());
  auto mk = RunCommand({"mkfs.ext4", "-F", "-q", dev}, "", 120);
  ASSERT_TRUE(mk.ok()) << mk.err;
  const std::string mnt = dir_ + "/fs";
  ASSERT_NO_FATAL_FAILURE(Mount(dev, mnt));
  auto wr = RunShell("for i in $(seq 1 12); do head -c 1000000 /dev/urandom > " + mnt +
                     "/f$i; done; sha256sum " + mnt + "/f* > " + dir_ + "/sums && sync");
  ASSERT_TRUE(wr.ok()) << wr.err;
  ASSERT_NO_FATAL_FAILURE(Umount(mnt));
  auto fsck = RunCommand({"e2fsck", "-fn", dev}, "", 120);
  EXPECT_TRUE(fsck.ok()) << fsck.out << fsck.err;
  ASSERT_NO_FATAL_FAILURE(Mount(dev, mnt));
  auto check = RunShell("sha256sum -c --quiet " + dir_ + "/sums");
  EXPECT_TRUE(check.ok()) << check.out << check.err;
}

// The write waits in the suspended engine; the resume (a control thread)
// reissues it and its completion answers the request: with the ring, from
// a thread that is not the queue's.
TEST_P(TransportTest, WriteHeldBySuspendIsAnsweredAfterResume) {
  ASSERT_TRUE(daemon_->Udm({"suspend", "v"}).ok());
  std::atomic<bool> done{false};
  std::thread writer([&] {
    const int fd = open(Vol("v").c_str(), O_RDWR | O_DIRECT);
    alignas(4096) static uint8_t buf[8192];
    std::memset(buf, 0x5a, sizeof buf);
    const bool written = pwrite(fd, buf, sizeof buf, 1 << 20) == 8192 && fdatasync(fd) == 0;
    close(fd);
    done = written;
  });
  std::this_thread::sleep_for(std::chrono::milliseconds(500));
  EXPECT_FALSE(done.load()) << "a write completed on a suspended volume";
  ASSERT_TRUE(daemon_->Udm({"resume", "v"}).ok());
  for (int i = 0; i < 100 && !done.load(); ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
  EXPECT_TRUE(done.load()) << "the held write was not answered within 10 s of the resume";
  if (!done.load()) kill(daemon_->pid(), SIGKILL);  // the write then fails: the thread ends
  writer.join();
  const auto back = ReadFileRange(Vol("v"), 1 << 20, 8192);
  ASSERT_EQ(back.size(), 8192u);
  EXPECT_EQ(back.front(), 0x5a);
  EXPECT_EQ(back.back(), 0x5a);
}

// SIGTERM while a file is open (and was just used) ends the daemon cleanly
// (the fixture's teardown checks the exit status), and the open file then
// fails instead of hanging.
TEST_P(TransportTest, ShutdownWithAnOpenFileEndsCleanly) {
  const int fd = open(Vol("v").c_str(), O_RDWR);
  ASSERT_GE(fd, 0);
  char buf[4096] = {1};
  ASSERT_EQ(pwrite(fd, buf, sizeof buf, 0), 4096);
  ASSERT_TRUE(daemon_->Stop(SIGTERM)) << daemon_->log();
  EXPECT_LT(pread(fd, buf, sizeof buf, 0), 0);
  close(fd);
  daemon_.reset();
}

// The one CPU thread `tid` may run on (a queue thread's), else -1.
int OnlyCpu(pid_t tid) {
  cpu_set_t set;
  if (sched_getaffinity(tid, sizeof(set), &set) != 0 || CPU_COUNT(&set) != 1) return -1;
  for (int c = 0; c < CPU_SETSIZE; ++c) {
    if (CPU_ISSET(c, &set)) return c;
  }
  return -1;
}

// Each queue thread sits on its CPU, where the requests it serves come
// from; io_uring's workers, which wait out its fdatasyncs, are kept off
// that CPU (sharing it, the scheduler bounced a QD1 fsync caller between
// the CPUs on every reply). Checked on the live threads after an fsync from
// every CPU this test may use: each of those queues must have workers.
TEST_P(TransportTest, FlushWorkersStayOffTheirQueuesCpu) {
  if (GetParam() != "uring") GTEST_SKIP() << "only the io_uring transport has queue threads";
  cpu_set_t mine;
  ASSERT_EQ(sched_getaffinity(0, sizeof(mine), &mine), 0);
  if (CPU_COUNT(&mine) < 2) GTEST_SKIP() << "needs two CPUs";
  const int fd = open(Vol("v").c_str(), O_RDWR | O_DIRECT);
  ASSERT_GE(fd, 0);
  alignas(4096) static uint8_t buf[4096];
  for (int c = 0; c < CPU_SETSIZE; ++c) {
    if (!CPU_ISSET(c, &mine)) continue;
    cpu_set_t one;
    CPU_ZERO(&one);
    CPU_SET(c, &one);
    EXPECT_EQ(sched_setaffinity(0, sizeof(one), &one), 0) << "CPU " << c;
    // A write first: a flush with nothing written since the last one is
    // answered without syncing anything.
    buf[0] = static_cast<uint8_t>(c);
    EXPECT_EQ(pwrite(fd, buf, sizeof buf, 0), 4096);
    EXPECT_EQ(fdatasync(fd), 0);
  }
  sched_setaffinity(0, sizeof(mine), &mine);  // back to where it was
  close(fd);

  std::set<int> served;  // queue CPUs whose workers were seen
  const std::string tasks = fmt::format("/proc/{}/task", daemon_->pid());
  for (const auto& entry : std::filesystem::directory_iterator(tasks)) {
    std::ifstream comm(entry.path() / "comm");
    std::string name;
    std::getline(comm, name);
    // "iou-wrk-<tid of the thread whose ring it serves>"
    if (name.rfind("iou-wrk-", 0) != 0) continue;
    const pid_t owner = std::atoi(name.c_str() + 8);
    const int queue_cpu = OnlyCpu(owner);
    if (queue_cpu < 0) continue;  // not a queue thread's worker
    cpu_set_t set;  // an idle extra worker may have exited since the listing
    if (sched_getaffinity(std::stoi(entry.path().filename()), sizeof(set), &set) != 0) continue;
    served.insert(queue_cpu);
    EXPECT_FALSE(CPU_ISSET(queue_cpu, &set))
        << name << " may run on CPU " << queue_cpu << ", its queue thread's";
    EXPECT_GT(CPU_COUNT(&set), 0);
  }
  for (int c = 0; c < CPU_SETSIZE; ++c) {
    if (CPU_ISSET(c, &mine)) {
      EXPECT_TRUE(served.count(c)) << "no io_uring worker of queue " << c << " after its fdatasync";
    }
  }
}

// How many mounts are stacked on `path` (from the mount table).
int MountsOn(const std::string& path) {
  std::ifstream in("/proc/self/mountinfo");
  std::string line;
  int n = 0;
  while (std::getline(in, line)) {
    std::istringstream f(line);
    std::string id, parent, devno, root, point;
    f >> id >> parent >> devno >> root >> point;
    n += point == path;
  }
  return n;
}

// A restart right after kill -9 replaces the dead daemon's mount instead of
// stacking on it (with the ring, the kernel drops the old connection a
// little after the process is gone), and the volume is served again.
TEST_P(TransportTest, RestartAfterKillNineReplacesTheDeadMount) {
  ASSERT_EQ(MountsOn(daemon_->mount()), 1);
  for (int i = 0; i < 3; ++i) {
    const int fd = open(Vol("v").c_str(), O_RDWR);
    ASSERT_GE(fd, 0);
    char buf[512] = {static_cast<char>('a' + i)};
    ASSERT_EQ(pwrite(fd, buf, sizeof buf, 0), 512);
    ASSERT_EQ(fsync(fd), 0);
    ASSERT_EQ(kill(daemon_->pid(), SIGKILL), 0);
    ASSERT_FALSE(daemon_->Stop(SIGKILL));  // reaps it; it did not exit cleanly
    close(fd);
    ASSERT_TRUE(daemon_->Start({"--fuse-transport", GetParam()})) << daemon_->log();
    EXPECT_EQ(MountsOn(daemon_->mount()), 1) << "round " << i;
    const auto back = ReadFileRange(Vol("v"), 0, 1);
    ASSERT_EQ(back.size(), 1u);
    EXPECT_EQ(back[0], 'a' + i);
  }
}

// A second daemon pointed at a mountpoint a live udmd serves refuses,
// naming it, and leaves the first one serving.
TEST_P(TransportTest, SecondDaemonOnTheSameMountpointIsRefused) {
  const std::string other = MakeTempDir("udm-transport-2");
  DaemonProcess second(other, DaemonPaths{UDMD_PATH, UDMSETUP_PATH});
  EXPECT_FALSE(second.Start({"--mount", daemon_->mount()}));
  EXPECT_THAT(second.log(), HasSubstr(fmt::format("served by a running udmd (pid {})",
                                                  daemon_->pid())));
  EXPECT_EQ(MountsOn(daemon_->mount()), 1);
  EXPECT_EQ(ReadFileRange(Vol("v"), 0, 4096).size(), 4096u);
  std::error_code ec;
  std::filesystem::remove_all(other, ec);
}

INSTANTIATE_TEST_SUITE_P(Transports, TransportTest, ::testing::Values("dev", "uring"),
                         [](const auto& info) { return info.param; });

}  // namespace
}  // namespace udm::test
