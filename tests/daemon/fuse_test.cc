// VolumeFs through a real FUSE mount: what a user of <mount>/<name> sees —
// listing and attributes, byte-exact I/O at any offset, fsync, fallocate,
// suspend, and the file under losetup, mkfs, fsck and fio.
#include "fuse/volume_fs.h"

#include <fcntl.h>
#include <linux/aio_abi.h>
#include <linux/falloc.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <map>
#include <mutex>
#include <random>
#include <regex>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include <fmt/core.h>
#include <gtest/gtest.h>

#include "support/test_io.h"
#include "support/test_resolver.h"
#include "udm/backends.h"
#include "udm/file_backend.h"

namespace udm::daemon {
namespace {

using namespace std::chrono_literals;
using Clock = std::chrono::steady_clock;
namespace fs = std::filesystem;

// The volume manager as the FUSE layer sees it.
class FakeDirectory : public VolumeDirectory {
 public:
  uint64_t Add(const std::string& name, std::shared_ptr<MappedDevice> dev, bool ro = false) {
    std::lock_guard<std::mutex> g(mu_);
    const uint64_t ino = next_ino_++;
    volumes_[ino] = VolumeHandle{ino, name, std::move(dev), ro};
    return ino;
  }
  void Remove(const std::string& name) {
    std::lock_guard<std::mutex> g(mu_);
    std::erase_if(volumes_, [&](const auto& kv) { return kv.second.name == name; });
  }
  std::vector<VolumeHandle> List() const override {
    std::lock_guard<std::mutex> g(mu_);
    std::vector<VolumeHandle> out;
    for (const auto& kv : volumes_) out.push_back(kv.second);
    return out;
  }
  std::optional<VolumeHandle> FindByName(std::string_view name) const override {
    std::lock_guard<std::mutex> g(mu_);
    for (const auto& kv : volumes_) {
      if (kv.second.name == name) return kv.second;
    }
    return std::nullopt;
  }
  std::optional<VolumeHandle> FindByIno(uint64_t ino) const override {
    std::lock_guard<std::mutex> g(mu_);
    auto it = volumes_.find(ino);
    return it == volumes_.end() ? std::nullopt : std::optional(it->second);
  }
  void Opened(uint64_t) override { ++open_; }
  void Released(uint64_t) override { --open_; }
  int open_count() const { return open_.load(); }

 private:
  mutable std::mutex mu_;
  std::map<uint64_t, VolumeHandle> volumes_;  // guarded by mu_
  uint64_t next_ino_ = 100;                   // guarded by mu_
  std::atomic<int> open_{0};
};

// Page-aligned memory for O_DIRECT.
struct AlignedBuf {
  explicit AlignedBuf(size_t n)
      : p(static_cast<char*>(std::aligned_alloc(4096, (n + 4095) / 4096 * 4096))), size(n) {}
  ~AlignedBuf() { std::free(p); }
  char* p;
  size_t size;
};

std::string Capture(const std::string& cmd, int* rc = nullptr) {
  std::string out;
  FILE* f = popen(cmd.c_str(), "r");
  char buf[4096];
  while (f != nullptr && std::fgets(buf, sizeof buf, f) != nullptr) out += buf;
  const int status = f != nullptr ? pclose(f) : -1;
  if (rc != nullptr) *rc = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
  while (!out.empty() && (out.back() == '\n' || out.back() == ' ')) out.pop_back();
  return out;
}

// Runs `cmd`; its output is shown only when it fails.
int Shell(const std::string& cmd) {
  int rc = 0;
  const std::string out = Capture(cmd + " 2>&1", &rc);
  if (rc != 0) std::fprintf(stderr, "`%s` exited %d:\n%s\n", cmd.c_str(), rc, out.c_str());
  return rc;
}

ssize_t PreadAll(int fd, void* buf, size_t len, off_t off) {
  size_t done = 0;
  while (done < len) {
    ssize_t n = pread(fd, static_cast<char*>(buf) + done, len - done, off + done);
    if (n < 0) return -errno;
    if (n == 0) break;
    done += n;
  }
  return static_cast<ssize_t>(done);
}

// Polls `pred` for up to `limit`.
template <typename Pred>
bool Eventually(Pred pred, std::chrono::milliseconds limit) {
  const auto deadline = Clock::now() + limit;
  while (!pred()) {
    if (Clock::now() > deadline) return false;
    std::this_thread::sleep_for(5ms);
  }
  return true;
}

// Faster than the kernel's 1 s caches: only an invalidation explains it.
constexpr auto kNotifyLimit = 400ms;

class VolumeFsTest : public ::testing::Test {
 protected:
  void SetUp() override {
    if (geteuid() != 0 || access("/dev/fuse", R_OK | W_OK) != 0) {
      GTEST_SKIP() << "needs root and /dev/fuse";
    }
    char tmpl[] = "/tmp/udm-fuse-test-XXXXXX";
    ASSERT_NE(mkdtemp(tmpl), nullptr);
    dir_ = tmpl;
    mnt_ = dir_ + "/mnt";
    fs::create_directory(mnt_);
    auto w = UringWorker::Start();
    ASSERT_TRUE(w.has_value());
    worker_ = *w;
  }

  void TearDown() override {
    for (auto it = fs_mounts_.rbegin(); it != fs_mounts_.rend(); ++it) umount2(it->c_str(), 0);
    for (const std::string& loop : loops_) Shell("losetup -d " + loop);
    volume_fs_.reset();
    if (!dir_.empty()) fs::remove_all(dir_);
  }

  void Mount(const VolumeFsOptions& opts = {}) {
    auto m = VolumeFs::Mount(mnt_, dir_volumes_, opts);
    ASSERT_TRUE(m.has_value()) << m.error().message;
    volume_fs_ = std::move(*m);
  }

  std::string Path(const std::string& name) const { return mnt_ + "/" + name; }

  std::shared_ptr<MappedDevice> Device(const std::string& table) {
    std::shared_ptr<MappedDevice> d = test::MakeDevice(table, resolver_);
    EXPECT_NE(d, nullptr) << table;
    return d;
  }

  // A RAM-backed volume device of `sectors`.
  std::shared_ptr<MappedDevice> MemDevice(uint64_t sectors) {
    const std::string name = fmt::format("mem{}", mem_count_++);
    resolver_.Add(std::make_shared<MemoryBackend>(name, sectors));
    return Device(fmt::format("0 {} linear {} 0", sectors, name));
  }

  // A sparse backing file of `sectors`, registered under its path.
  std::string BackingFile(const std::string& name, uint64_t sectors) {
    const std::string path = dir_ + "/" + name;
    int fd = open(path.c_str(), O_CREAT | O_RDWR, 0600);
    EXPECT_GE(fd, 0);
    EXPECT_EQ(ftruncate(fd, static_cast<off_t>(sectors * 512)), 0);
    close(fd);
    auto b = OpenFileBackend(path, worker_, {});
    EXPECT_TRUE(b.has_value());
    resolver_.Add(*b);
    return path;
  }

  std::string AttachLoop(const std::string& file, bool direct) {
    int rc = 0;
    std::string dev = Capture(
        fmt::format("losetup -f --show {} {}", direct ? "--direct-io=on" : "", file), &rc);
    EXPECT_EQ(rc, 0) << dev;
    if (rc == 0) loops_.push_back(dev);
    return dev;
  }

  std::string dir_, mnt_;
  FakeDirectory dir_volumes_;
  test::TestResolver resolver_;
  std::shared_ptr<UringWorker> worker_;
  std::unique_ptr<VolumeFs> volume_fs_;
  std::vector<std::string> loops_;
  std::vector<std::string> fs_mounts_;
  int mem_count_ = 0;
};

std::set<std::string> ListDir(const std::string& path) {
  std::set<std::string> names;
  for (const auto& e : fs::directory_iterator(path)) names.insert(e.path().filename());
  return names;
}

TEST_F(VolumeFsTest, ListsVolumesAsRegularFiles) {
  dir_volumes_.Add("alpha", MemDevice(2048));
  dir_volumes_.Add("beta", MemDevice(8192), /*ro=*/true);
  Mount();
  EXPECT_EQ(ListDir(mnt_), (std::set<std::string>{"alpha", "beta"}));

  struct stat st{};
  ASSERT_EQ(stat(Path("alpha").c_str(), &st), 0);
  EXPECT_TRUE(S_ISREG(st.st_mode));
  EXPECT_EQ(st.st_mode & 07777, 0600u);
  EXPECT_EQ(st.st_size, 2048 * 512);
  EXPECT_EQ(st.st_nlink, 1u);
  EXPECT_EQ(st.st_blksize, 4096);
  EXPECT_EQ(st.st_uid, getuid());
  ASSERT_EQ(stat(Path("beta").c_str(), &st), 0);
  EXPECT_EQ(st.st_size, 8192 * 512);
  EXPECT_EQ(st.st_mode & 07777, 0400u);  // read-only volume
  EXPECT_EQ(stat(Path("gamma").c_str(), &st), -1);
  EXPECT_EQ(errno, ENOENT);

  struct statvfs sv{};
  ASSERT_EQ(statvfs(mnt_.c_str(), &sv), 0);
  EXPECT_EQ(sv.f_bsize, 4096u);
  EXPECT_EQ(sv.f_frsize, 4096u);
  EXPECT_EQ(sv.f_blocks, (2048u + 8192u) * 512 / 4096);

  EXPECT_EQ(chmod(Path("alpha").c_str(), 0644), -1);
  EXPECT_EQ(errno, EPERM);
  EXPECT_EQ(truncate(Path("alpha").c_str(), 4096), -1);
  EXPECT_EQ(errno, EINVAL);
  int fd = open(Path("alpha").c_str(), O_WRONLY | O_TRUNC);  // ignored, as on a block device
  EXPECT_GE(fd, 0);
  close(fd);
  ASSERT_EQ(stat(Path("alpha").c_str(), &st), 0);
  EXPECT_EQ(st.st_size, 2048 * 512);
}

TEST_F(VolumeFsTest, ListingFollowsDirectoryAtOnce) {
  dir_volumes_.Add("one", MemDevice(2048));
  Mount();
  struct stat st{};
  ASSERT_EQ(stat(Path("one").c_str(), &st), 0);  // the kernel caches the entry now

  dir_volumes_.Add("two", MemDevice(4096));
  volume_fs_->NotifyListChanged();
  EXPECT_TRUE(Eventually([&] { return stat(Path("two").c_str(), &st) == 0; }, kNotifyLimit));
  EXPECT_EQ(ListDir(mnt_), (std::set<std::string>{"one", "two"}));

  dir_volumes_.Remove("one");
  volume_fs_->NotifyListChanged();
  EXPECT_TRUE(Eventually([&] { return stat(Path("one").c_str(), &st) != 0; }, kNotifyLimit));
  EXPECT_EQ(ListDir(mnt_), (std::set<std::string>{"two"}));
}

TEST_F(VolumeFsTest, SizeAfterTableSwapIsVisibleAtOnce) {
  resolver_.Add(std::make_shared<MemoryBackend>("big", 65536));
  std::shared_ptr<MappedDevice> dev = Device("0 8192 linear big 0");
  const uint64_t ino = dir_volumes_.Add("vol", dev);
  Mount();
  int fd = open(Path("vol").c_str(), O_RDONLY);
  ASSERT_GE(fd, 0);
  struct stat st{};
  ASSERT_EQ(fstat(fd, &st), 0);
  EXPECT_EQ(st.st_size, 8192 * 512);

  TableOptions topts;
  topts.resolver = &resolver_;
  auto table = Table::FromText("0 65536 linear big 0", BuiltinTargets(), topts);
  ASSERT_TRUE(table.has_value());
  ASSERT_TRUE(dev->Load(std::move(*table)));
  ASSERT_TRUE(dev->Resume());
  volume_fs_->NotifyChanged(ino, "");
  EXPECT_TRUE(Eventually(
      [&] { return stat(Path("vol").c_str(), &st) == 0 && st.st_size == 65536 * 512; },
      kNotifyLimit));
  ASSERT_EQ(fstat(fd, &st), 0);
  EXPECT_EQ(st.st_size, 65536 * 512);
  close(fd);
}

// A volume over two files: a linear piece of each around a striped middle.
struct TwoFileVolume {
  static constexpr uint64_t kPiece = 16384;   // sectors of each linear piece
  static constexpr uint64_t kMiddle = 49152;  // sectors striped over both files
  static constexpr uint64_t kChunk = 128;
  static constexpr uint64_t kSectors = 2 * kPiece + kMiddle;
  static constexpr uint64_t kFileSectors = kPiece + kMiddle / 2;

  std::string Table(const std::string& f1, const std::string& f2) const {
    return fmt::format("0 {0} linear {2} 0\n{0} {1} striped 2 {4} {2} {0} {3} 0\n{5} {0} linear {3} {6}\n",
                       kPiece, kMiddle, f1, f2, kChunk, kPiece + kMiddle, kMiddle / 2);
  }
  // Volume sector -> (file index, sector in that file).
  static std::pair<int, uint64_t> Map(uint64_t s) {
    if (s < kPiece) return {0, s};
    if (s >= kPiece + kMiddle) return {1, kMiddle / 2 + (s - kPiece - kMiddle)};
    const uint64_t rel = s - kPiece, chunk = rel / kChunk;
    const uint64_t at = (chunk / 2) * kChunk + rel % kChunk;
    return chunk % 2 == 0 ? std::pair{0, kPiece + at} : std::pair{1, at};
  }
};

TEST_F(VolumeFsTest, RandomIoMatchesReferenceAndBackingFiles) {
  TwoFileVolume layout;
  const std::string f1 = BackingFile("f1", layout.kFileSectors);
  const std::string f2 = BackingFile("f2", layout.kFileSectors);
  dir_volumes_.Add("vol", Device(layout.Table(f1, f2)));
  Mount();
  const size_t bytes = layout.kSectors * 512;
  std::vector<uint8_t> ref(bytes, 0);
  constexpr int kThreads = 4;
  const size_t region = bytes / kThreads;  // each thread owns one; 4 KiB multiples
  std::atomic<int> mismatches{0}, failures{0};
  auto worker = [&](int t) {
    // Even threads go straight to the daemon (O_DIRECT, any alignment),
    // odd ones through the page cache.
    int fd = open(Path("vol").c_str(), O_RDWR | (t % 2 == 0 ? O_DIRECT : 0));
    if (fd < 0) return static_cast<void>(++failures);
    std::mt19937_64 rng(1234 + t);
    std::vector<uint8_t> buf(256 * 1024);
    for (int op = 0; op < 1500; ++op) {
      const size_t len = rng() % 4 == 0 ? 1 + rng() % buf.size() : 1 + rng() % 3000;
      const size_t off = t * region + rng() % (region - len);
      if (rng() % 5 < 3) {
        for (size_t i = 0; i < len; ++i) buf[i] = static_cast<uint8_t>(rng());
        if (pwrite(fd, buf.data(), len, off) != static_cast<ssize_t>(len)) ++failures;
        std::memcpy(&ref[off], buf.data(), len);
      } else {
        if (PreadAll(fd, buf.data(), len, off) != static_cast<ssize_t>(len)) ++failures;
        if (std::memcmp(buf.data(), &ref[off], len) != 0) ++mismatches;
      }
    }
    if (fsync(fd) != 0) ++failures;
    close(fd);
  };
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) threads.emplace_back(worker, t);
  for (auto& th : threads) th.join();
  EXPECT_EQ(failures.load(), 0);
  EXPECT_EQ(mismatches.load(), 0);

  int fd = open(Path("vol").c_str(), O_RDONLY | O_DIRECT);
  ASSERT_GE(fd, 0);
  std::vector<uint8_t> whole(bytes);
  ASSERT_EQ(PreadAll(fd, whole.data(), bytes, 0), static_cast<ssize_t>(bytes));
  close(fd);
  EXPECT_TRUE(whole == ref) << "volume differs from the reference";

  int files[2] = {open(f1.c_str(), O_RDONLY), open(f2.c_str(), O_RDONLY)};
  size_t wrong_sectors = 0;
  std::vector<uint8_t> sector(512);
  for (uint64_t s = 0; s < layout.kSectors; ++s) {
    auto [file, at] = TwoFileVolume::Map(s);
    ASSERT_EQ(pread(files[file], sector.data(), 512, at * 512), 512);
    if (std::memcmp(sector.data(), &ref[s * 512], 512) != 0) ++wrong_sectors;
  }
  close(files[0]);
  close(files[1]);
  EXPECT_EQ(wrong_sectors, 0u) << "backing files differ from the mapping";
}

// Two threads keep many partial-sector writes in flight (Linux AIO on an
// O_DIRECT descriptor) to the same sectors, at disjoint bytes. A lost
// update shows as a thread not reading back what it just wrote.
TEST_F(VolumeFsTest, PartialSectorWritesFromTwoThreadsAreAtomic) {
  const std::string f = BackingFile("rmw", 4096);
  dir_volumes_.Add("vol", Device(fmt::format("0 4096 linear {} 0", f)));
  Mount();
  constexpr int kSectors = 16, kRounds = 200;
  // Thread 0 writes bytes 400..599 of each sector pair (crossing a sector
  // boundary); thread 1 writes bytes 100..299.
  const size_t offs[2] = {400, 100}, lens[2] = {200, 200};
  std::atomic<int> lost{0}, failures{0};
  auto worker = [&](int t) {
    int fd = open(Path("vol").c_str(), O_RDWR | O_DIRECT);
    aio_context_t ctx = 0;
    if (fd < 0 || syscall(SYS_io_setup, kSectors, &ctx) != 0) return static_cast<void>(++failures);
    std::vector<std::vector<uint8_t>> bufs(kSectors, std::vector<uint8_t>(lens[t]));
    std::vector<iocb> cbs(kSectors);
    std::vector<iocb*> ptrs(kSectors);
    std::vector<uint8_t> back(lens[t]);
    for (int round = 0; round < kRounds; ++round) {
      for (int i = 0; i < kSectors; ++i) {
        std::memset(bufs[i].data(), (round * 2 + t + i) % 251 + 1, lens[t]);
        cbs[i] = iocb{};
        cbs[i].aio_fildes = fd;
        cbs[i].aio_lio_opcode = IOCB_CMD_PWRITE;
        cbs[i].aio_buf = reinterpret_cast<uint64_t>(bufs[i].data());
        cbs[i].aio_nbytes = lens[t];
        cbs[i].aio_offset = i * 1024 + offs[t];
        ptrs[i] = &cbs[i];
      }
      if (syscall(SYS_io_submit, ctx, kSectors, ptrs.data()) != kSectors) {
        ++failures;
        break;
      }
      io_event events[kSectors];
      int got = 0;
      while (got < kSectors) {
        long n = syscall(SYS_io_getevents, ctx, 1, kSectors - got, events + got, nullptr);
        if (n <= 0) break;
        got += static_cast<int>(n);
      }
      for (int i = 0; i < got; ++i) {
        if (events[i].res != static_cast<int64_t>(lens[t])) ++failures;
      }
      for (int i = 0; i < kSectors; ++i) {
        if (pread(fd, back.data(), lens[t], i * 1024 + offs[t]) != static_cast<ssize_t>(lens[t]) ||
            back != bufs[i]) {
          ++lost;
        }
      }
    }
    syscall(SYS_io_destroy, ctx);
    close(fd);
  };
  std::thread a(worker, 0), b(worker, 1);
  a.join();
  b.join();
  EXPECT_EQ(failures.load(), 0);
  EXPECT_EQ(lost.load(), 0);
}

TEST_F(VolumeFsTest, DirectIoEndOfVolumeAndReadOnly) {
  constexpr uint64_t kSectors = 2048;
  constexpr off_t kSize = kSectors * 512;
  std::shared_ptr<MappedDevice> dev = MemDevice(kSectors);
  dir_volumes_.Add("vol", dev);
  dir_volumes_.Add("ro", MemDevice(kSectors), /*ro=*/true);
  Mount();
  {  // max_write is 1 MiB: one O_DIRECT write of 1 MiB is one request
    int fd = open(Path("vol").c_str(), O_RDWR | O_DIRECT);
    AlignedBuf w(1 << 20);
    std::memset(w.p, 0x11, w.size);
    const uint64_t before = dev->Stats().writes;
    EXPECT_EQ(pwrite(fd, w.p, w.size, 0), 1 << 20);
    EXPECT_EQ(dev->Stats().writes, before + 1);
    close(fd);
  }
  for (int flags : {O_DIRECT, 0}) {
    SCOPED_TRACE(flags != 0 ? "O_DIRECT" : "buffered");
    int fd = open(Path("vol").c_str(), O_RDWR | flags);
    ASSERT_GE(fd, 0);
    AlignedBuf w(65536), r(65536);
    std::memset(w.p, flags != 0 ? 0x5a : 0x6b, w.size);
    ASSERT_EQ(pwrite(fd, w.p, w.size, 8192), 65536);
    ASSERT_EQ(pread(fd, r.p, r.size, 8192), 65536);
    EXPECT_EQ(std::memcmp(w.p, r.p, w.size), 0);

    EXPECT_EQ(pwrite(fd, w.p, 4096, kSize), -1);
    EXPECT_EQ(errno, ENOSPC);
    EXPECT_EQ(pwrite(fd, w.p, 8192, kSize - 4096), 4096);  // short: what fits
    EXPECT_EQ(pread(fd, r.p, 8192, kSize - 4096), 4096);
    EXPECT_EQ(pread(fd, r.p, 4096, kSize), 0);
    close(fd);
  }
  EXPECT_EQ(open(Path("ro").c_str(), O_RDWR), -1);
  EXPECT_EQ(errno, EROFS);
  int fd = open(Path("ro").c_str(), O_RDONLY | O_DIRECT);
  ASSERT_GE(fd, 0);
  AlignedBuf r(4096);
  EXPECT_EQ(pread(fd, r.p, 4096, 0), 4096);
  close(fd);
  EXPECT_TRUE(Eventually([&] { return dir_volumes_.open_count() == 0; }, 2s));  // async release
}

TEST_F(VolumeFsTest, FsyncReachesTheDevice) {
  const std::string f = BackingFile("sync", 2048);
  std::shared_ptr<MappedDevice> dev = Device(fmt::format("0 2048 linear {} 0", f));
  dir_volumes_.Add("vol", dev);
  Mount();
  int fd = open(Path("vol").c_str(), O_RDWR);
  ASSERT_GE(fd, 0);
  const uint64_t before = dev->Stats().flushes;
  ASSERT_EQ(pwrite(fd, "hello", 5, 100), 5);
  EXPECT_EQ(fsync(fd), 0);
  EXPECT_EQ(dev->Stats().flushes, before + 1);
  EXPECT_EQ(fdatasync(fd), 0);
  EXPECT_EQ(dev->Stats().flushes, before + 2);
  close(fd);
  char back[5] = {};
  int raw = open(f.c_str(), O_RDONLY);
  EXPECT_EQ(pread(raw, back, 5, 100), 5);
  close(raw);
  EXPECT_EQ(std::string(back, 5), "hello");
}

TEST_F(VolumeFsTest, FallocatePunchesAndZeroes) {
  const std::string f = BackingFile("falloc", 1024);
  dir_volumes_.Add("vol", Device(fmt::format("0 1024 linear {} 0", f)));
  Mount();
  constexpr size_t kSize = 1024 * 512;
  int fd = open(Path("vol").c_str(), O_RDWR);
  ASSERT_GE(fd, 0);
  std::vector<uint8_t> ref(kSize, 0xc3);
  ASSERT_EQ(pwrite(fd, ref.data(), kSize, 0), static_cast<ssize_t>(kSize));
  struct Range { int mode; off_t off, len; };
  const Range ranges[] = {
      {FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE, 8192, 16384},  // aligned
      {FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE, 40001, 5000},  // unaligned ends
      {FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE, 60010, 100},   // inside one sector
      {FALLOC_FL_ZERO_RANGE, 81920, 8192},
      {FALLOC_FL_ZERO_RANGE, 100003, 7001},
      {FALLOC_FL_ZERO_RANGE | FALLOC_FL_KEEP_SIZE, kSize - 1000, 5000},  // clipped at the end
  };
  for (const Range& r : ranges) {
    EXPECT_EQ(fallocate(fd, r.mode, r.off, r.len), 0) << r.off;
    std::memset(&ref[r.off], 0, std::min<size_t>(r.len, kSize - r.off));
  }
  EXPECT_EQ(fallocate(fd, 0, 0, 4096), 0);
  EXPECT_EQ(fallocate(fd, 0, kSize - 512, 4096), -1);
  EXPECT_EQ(errno, ENOSPC);
  EXPECT_EQ(fallocate(fd, FALLOC_FL_ZERO_RANGE, kSize - 512, 4096), -1);
  EXPECT_EQ(errno, ENOSPC);
  EXPECT_EQ(fallocate(fd, FALLOC_FL_COLLAPSE_RANGE, 0, 4096), -1);
  EXPECT_EQ(errno, EOPNOTSUPP);
  close(fd);

  for (int flags : {O_DIRECT, 0}) {
    fd = open(Path("vol").c_str(), O_RDONLY | flags);
    ASSERT_GE(fd, 0);
    std::vector<uint8_t> back(kSize);
    ASSERT_EQ(PreadAll(fd, back.data(), kSize, 0), static_cast<ssize_t>(kSize));
    EXPECT_TRUE(back == ref) << (flags != 0 ? "O_DIRECT" : "buffered");
    close(fd);
  }
}

// I/O to a suspended volume waits in the engine, not in a FUSE thread: with
// more requests parked than FUSE threads, another volume still answers.
TEST_F(VolumeFsTest, SuspendedVolumeDoesNotBlockFuseThreads) {
  std::shared_ptr<MappedDevice> held = MemDevice(2048);
  dir_volumes_.Add("held", held);
  dir_volumes_.Add("free", MemDevice(2048));
  VolumeFsOptions opts;
  opts.threads = 2;
  Mount(opts);
  ASSERT_TRUE(held->Suspend());
  std::atomic<int> done{0};
  std::vector<std::thread> threads;
  threads.emplace_back([&] {
    int fd = open(Path("held").c_str(), O_RDWR | O_DIRECT);
    AlignedBuf b(4096);
    std::memset(b.p, 0xab, 4096);
    if (pwrite(fd, b.p, 4096, 0) == 4096) ++done;
    close(fd);
  });
  for (int i = 0; i < 4; ++i) {
    threads.emplace_back([&, i] {
      int fd = open(Path("held").c_str(), O_RDONLY | O_DIRECT);
      AlignedBuf b(4096);
      if (pread(fd, b.p, 4096, 8192 * (i + 1)) == 4096) ++done;
      close(fd);
    });
  }
  std::this_thread::sleep_for(1s);
  EXPECT_EQ(done.load(), 0);
  EXPECT_EQ(held->Stats().deferred, 5u);

  const auto start = Clock::now();
  int fd = open(Path("free").c_str(), O_RDONLY | O_DIRECT);
  AlignedBuf b(4096);
  EXPECT_EQ(pread(fd, b.p, 4096, 0), 4096);
  close(fd);
  EXPECT_LT(Clock::now() - start, 500ms);

  ASSERT_TRUE(held->Resume());
  for (auto& t : threads) t.join();
  EXPECT_EQ(done.load(), 5);
  fd = open(Path("held").c_str(), O_RDONLY | O_DIRECT);
  EXPECT_EQ(pread(fd, b.p, 4096, 0), 4096);
  EXPECT_EQ(static_cast<uint8_t>(b.p[4095]), 0xab);
  close(fd);
}

// Unmount returns although a request waits in a suspended device; the
// request is answered when the device resumes.
TEST_F(VolumeFsTest, UnmountDoesNotWaitForSuspendedVolume) {
  std::shared_ptr<MappedDevice> held = MemDevice(2048);
  dir_volumes_.Add("held", held);
  Mount();
  ASSERT_TRUE(held->Suspend());
  std::atomic<ssize_t> written{-2};
  std::thread writer([&] {
    int fd = open(Path("held").c_str(), O_RDWR | O_DIRECT);
    AlignedBuf b(4096);
    std::memset(b.p, 1, 4096);
    written = pwrite(fd, b.p, 4096, 0);
    close(fd);
  });
  ASSERT_TRUE(Eventually([&] { return held->Stats().deferred == 1; }, 2s));
  const auto start = Clock::now();
  volume_fs_->Unmount();
  EXPECT_LT(Clock::now() - start, 2s);
  EXPECT_EQ(dir_volumes_.open_count(), 0);
  ASSERT_TRUE(held->Resume());
  writer.join();
  EXPECT_EQ(written.load(), 4096);
}

TEST_F(VolumeFsTest, ReplacesStaleMountOfCrashedDaemon) {
  int fd = open("/dev/fuse", O_RDWR);
  ASSERT_GE(fd, 0);
  const std::string opts = fmt::format("fd={},rootmode=40000,user_id=0,group_id=0", fd);
  ASSERT_EQ(mount("udm", mnt_.c_str(), "fuse.udm", MS_NOSUID | MS_NODEV, opts.c_str()), 0);
  close(fd);  // the "daemon" dies
  struct stat st{};
  ASSERT_EQ(stat(mnt_.c_str(), &st), -1);
  ASSERT_EQ(errno, ENOTCONN);

  dir_volumes_.Add("vol", MemDevice(2048));
  Mount();
  EXPECT_EQ(ListDir(mnt_), (std::set<std::string>{"vol"}));
}

// --- Integration: loop devices, filesystems, fio ----------------------------

struct FsCase {
  const char* mkfs;
  const char* check;
  uint64_t sectors_per_file;
  bool direct;
};

void PrintTo(const FsCase& c, std::ostream* os) {
  *os << c.mkfs << (c.direct ? ", direct loop" : ", buffered loop");
}

class VolumeFsLoopTest : public VolumeFsTest, public ::testing::WithParamInterface<FsCase> {};

TEST_P(VolumeFsLoopTest, FilesystemOnLoopDeviceSurvivesFsckAndRemount) {
  const FsCase c = GetParam();
  const std::string f1 = BackingFile("a", c.sectors_per_file);
  const std::string f2 = BackingFile("b", c.sectors_per_file);
  dir_volumes_.Add("disk", Device(fmt::format("0 {0} linear {1} 0\n{0} {0} linear {2} 0",
                                              c.sectors_per_file, f1, f2)));
  Mount();
  const std::string loop = AttachLoop(Path("disk"), c.direct);
  ASSERT_FALSE(loop.empty());
  const std::string dio = Capture("cat /sys/block/" + loop.substr(5) + "/loop/dio");
  EXPECT_EQ(dio, c.direct ? "1" : "0");
  ASSERT_EQ(Shell(fmt::format("{} {}", c.mkfs, loop)), 0);
  const std::string fsdir = dir_ + "/fs";
  fs::create_directory(fsdir);
  ASSERT_EQ(Shell(fmt::format("mount {} {}", loop, fsdir)), 0);
  fs_mounts_.push_back(fsdir);

  std::mt19937_64 rng(7);
  std::map<std::string, std::string> files;
  for (int i = 0; i < 24; ++i) {
    std::string data(i == 0 ? 24 << 20 : rng() % (512 << 10), '\0');
    for (char& ch : data) ch = static_cast<char>(rng());
    const std::string name = fmt::format("file{}", i);
    std::ofstream(fsdir + "/" + name, std::ios::binary) << data;
    files[name] = std::move(data);
  }
  sync();
  ASSERT_EQ(umount2(fsdir.c_str(), 0), 0);
  fs_mounts_.clear();
  EXPECT_EQ(Shell(fmt::format("{} {}", c.check, loop)), 0) << c.check;

  // A fresh loop device: nothing cached above the volume file survives.
  ASSERT_EQ(Shell("losetup -d " + loop), 0);
  loops_.clear();
  const std::string again = AttachLoop(Path("disk"), c.direct);
  ASSERT_EQ(Shell(fmt::format("mount {} {}", again, fsdir)), 0);
  fs_mounts_.push_back(fsdir);
  for (const auto& [name, data] : files) {
    std::ifstream in(fsdir + "/" + name, std::ios::binary);
    std::string back((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
    EXPECT_TRUE(back == data) << name;
  }
}

INSTANTIATE_TEST_SUITE_P(
    Filesystems, VolumeFsLoopTest,
    ::testing::Values(FsCase{"mkfs.ext4 -q -F", "e2fsck -fn", 131072, false},
                      FsCase{"mkfs.ext4 -q -F", "e2fsck -fn", 131072, true},
                      FsCase{"mkfs.xfs -q -f -K", "xfs_repair -n", 327680, true},
                      FsCase{"mkfs.xfs -q -f -K", "xfs_repair -n", 327680, false}),
    [](const auto& info) {
      return fmt::format("{}{}", std::string(info.param.mkfs).substr(5, 4) == "ext4" ? "Ext4" : "Xfs",
                         info.param.direct ? "Direct" : "Buffered");
    });

// fio's verdict: exit status and the per-job error fields of its json.
void ExpectFioClean(const std::string& args, const std::string& json_path) {
  int rc = 0;
  // No verify state file: it would land in the working directory.
  const std::string out = Capture("fio --verify_state_save=0 --output-format=json --output=" +
                                      json_path + " " + args + " 2>&1",
                                  &rc);
  EXPECT_EQ(rc, 0) << out;
  std::ifstream in(json_path);
  const std::string json((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  const std::regex err("\"error\"\\s*:\\s*(\\d+)");
  int jobs = 0;
  for (auto it = std::sregex_iterator(json.begin(), json.end(), err); it != std::sregex_iterator();
       ++it, ++jobs) {
    EXPECT_EQ((*it)[1].str(), "0") << json;
  }
  EXPECT_GT(jobs, 0) << out;
  const std::regex iops("\"(read|write)\"\\s*:\\s*\\{[^{}]*?\"iops\"\\s*:\\s*([0-9.]+)");
  for (auto it = std::sregex_iterator(json.begin(), json.end(), iops); it != std::sregex_iterator();
       ++it) {
    std::printf("fio %s: %s iops %s\n", args.substr(0, args.find(' ')).c_str(),
                (*it)[1].str().c_str(), (*it)[2].str().c_str());
  }
}

TEST_F(VolumeFsTest, FioVerifiesDirectAndBufferedIo) {
  const std::string f = BackingFile("fio", 262144);
  dir_volumes_.Add("vol", Device(fmt::format("0 262144 linear {} 0", f)));
  Mount();
  ExpectFioClean("--name=direct --filename=" + Path("vol") +
                     " --ioengine=io_uring --direct=1 --iodepth=32 --rw=randrw --bs=4k"
                     " --verify=crc32c --size=64M",
                 dir_ + "/direct.json");
  ExpectFioClean("--name=buffered --filename=" + Path("vol") +
                     " --ioengine=psync --rw=randrw --bs=4k --fsync=8 --verify=crc32c"
                     " --size=16M --offset=64M",
                 dir_ + "/buffered.json");
  // Writes from 512 B to 1 MiB, many in flight: large payloads keep the
  // FUSE worker's staging buffer, small ones are copied out of it, so a
  // buffer reused too early shows as a verify error.
  ExpectFioClean("--name=sizes --filename=" + Path("vol") +
                     " --ioengine=libaio --direct=1 --iodepth=16 --rw=randwrite"
                     " --bsrange=512-1M --verify=crc32c"
                     " --size=48M --offset=80M",
                 dir_ + "/sizes.json");
}

}  // namespace
}  // namespace udm::daemon
