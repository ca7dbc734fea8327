// Tests for FileBackend and UringWorker: real files under /var/tmp (direct
// and buffered) and /dev/shm (tmpfs), read back through the backend and pread.
#include "udm/file_backend.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include <gtest/gtest.h>

namespace udm {
namespace {

using namespace std::chrono_literals;

constexpr int kTimedOut = 1000;  // not an errno: the bio never completed

// Counts completions of bios whose private_data points at it.
struct Completions {
  std::mutex mu;
  std::condition_variable cv;
  int calls = 0;
  int last_status = 0;
  int failures = 0;

  static void EndIo(Bio* bio, int status) {
    static_cast<Completions*>(bio->private_data)->Count(status);
  }

  void Count(int status) {
    std::lock_guard g(mu);
    ++calls;
    last_status = status;
    if (status != 0) ++failures;
    cv.notify_all();
  }

  bool WaitFor(int n) {
    std::unique_lock l(mu);
    return cv.wait_for(l, 20s, [&] { return calls >= n; });
  }
};

// Page-aligned memory, so direct I/O can use it.
struct Buffer {
  explicit Buffer(size_t bytes) : data(nullptr, &std::free), size(bytes) {
    const size_t rounded = (bytes + 4095) / 4096 * 4096;  // aligned_alloc wants whole pages
    data.reset(static_cast<char*>(std::aligned_alloc(4096, rounded)));
    std::memset(data.get(), 0xee, rounded);
  }
  char* get() { return data.get(); }
  std::unique_ptr<char, decltype(&std::free)> data;
  size_t size;
};

std::vector<char> Pattern(size_t bytes, int seed) {
  std::vector<char> v(bytes);
  for (size_t i = 0; i < bytes; ++i) {
    v[i] = static_cast<char>((i * 7 + static_cast<size_t>(seed) * 13) % 251);
  }
  return v;
}

class FileBackendTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto worker = UringWorker::Start(64);
    ASSERT_TRUE(worker) << worker.error().message;
    worker_ = *worker;
  }

  void TearDown() override {
    for (const std::string& path : paths_) unlink(path.c_str());
  }

  // Creates a file of `bytes` zero bytes in `dir`; removed after the test.
  std::string MakeFile(const std::string& dir, uint64_t bytes) {
    std::string path = dir + "/udm_file_backend_XXXXXX";
    const int fd = mkstemp(path.data());
    EXPECT_GE(fd, 0) << path;
    EXPECT_EQ(ftruncate(fd, static_cast<off_t>(bytes)), 0);
    close(fd);
    paths_.push_back(path);
    return path;
  }

  std::shared_ptr<BlockDevice> Open(const std::string& path, FileBackendOptions options = {}) {
    auto dev = OpenFileBackend(path, worker_, options);
    EXPECT_TRUE(dev) << dev.error().message;
    return dev ? *dev : nullptr;
  }

  // Submits one bio and waits for its completion; returns its status.
  static int Run(BlockDevice& dev, Op op, uint64_t sector, uint64_t sectors,
                 const iovec* iov = nullptr, uint32_t iov_count = 0, uint64_t iov_offset = 0,
                 uint32_t flags = 0) {
    Completions done;
    Bio bio;
    bio.op = op;
    bio.flags = flags;
    bio.sector = sector;
    bio.sectors = sectors;
    bio.iov = iov;
    bio.iov_count = iov_count;
    bio.iov_offset = iov_offset;
    bio.end_io = &Completions::EndIo;
    bio.private_data = &done;
    dev.Submit(&bio);
    if (!done.WaitFor(1)) return kTimedOut;
    std::this_thread::sleep_for(1ms);  // a second completion would show up here
    std::lock_guard g(done.mu);
    EXPECT_EQ(done.calls, 1);
    return done.last_status;
  }

  static int Write(BlockDevice& dev, uint64_t sector, void* buf, size_t bytes, uint32_t flags = 0) {
    iovec iov{buf, bytes};
    return Run(dev, Op::kWrite, sector, bytes >> kSectorShift, &iov, 1, 0, flags);
  }

  static int Read(BlockDevice& dev, uint64_t sector, void* buf, size_t bytes) {
    iovec iov{buf, bytes};
    return Run(dev, Op::kRead, sector, bytes >> kSectorShift, &iov, 1);
  }

  // The file's bytes, read behind the backend's back.
  static std::vector<char> FileBytes(const std::string& path, uint64_t offset, size_t bytes) {
    std::vector<char> out(bytes);
    const int fd = open(path.c_str(), O_RDONLY | O_CLOEXEC);
    EXPECT_EQ(pread(fd, out.data(), bytes, static_cast<off_t>(offset)),
              static_cast<ssize_t>(bytes));
    close(fd);
    return out;
  }

  // Whether a file in `dir` can be opened with O_DIRECT.
  bool DirectAllowed(const std::string& dir) {
    const int fd = open(MakeFile(dir, 4096).c_str(), O_RDWR | O_DIRECT | O_CLOEXEC);
    if (fd < 0) return false;
    close(fd);
    return true;
  }

  std::shared_ptr<UringWorker> worker_;
  std::vector<std::string> paths_;
};

TEST_F(FileBackendTest, WriteThenReadBackDirectAndBuffered) {
  for (bool direct : {true, false}) {
    SCOPED_TRACE(direct ? "direct" : "buffered");
    const std::string path = MakeFile("/var/tmp", 1 << 20);
    auto dev = Open(path, {.writable = true, .allow_direct = direct});
    ASSERT_TRUE(dev);
    EXPECT_EQ(dev->name(), path);
    EXPECT_EQ(dev->sectors(), 2048u);
    EXPECT_EQ(dev->mode(), direct && DirectAllowed("/var/tmp") ? "direct" : "buffered");

    const std::vector<char> data = Pattern(64 << 10, 1);
    Buffer out(data.size());
    std::memcpy(out.get(), data.data(), data.size());
    ASSERT_EQ(Write(*dev, 8, out.get(), data.size()), 0);
    EXPECT_EQ(FileBytes(path, 8 * kSectorSize, data.size()), data);

    Buffer in(data.size());
    ASSERT_EQ(Read(*dev, 8, in.get(), data.size()), 0);
    EXPECT_EQ(std::memcmp(in.get(), data.data(), data.size()), 0);
    EXPECT_EQ(dev->last_error(), 0);
  }
}

TEST_F(FileBackendTest, UnalignedMemoryIsReadAndWrittenCorrectly) {
  const std::string path = MakeFile("/var/tmp", 1 << 20);
  auto dev = Open(path);
  ASSERT_TRUE(dev);
  const std::vector<char> data = Pattern(3 * kSectorSize, 2);
  Buffer out(data.size() + 1);
  std::memcpy(out.get() + 1, data.data(), data.size());
  ASSERT_EQ(Write(*dev, 3, out.get() + 1, data.size()), 0);  // odd address and sector
  EXPECT_EQ(FileBytes(path, 3 * kSectorSize, data.size()), data);

  Buffer in(data.size() + 3);
  ASSERT_EQ(Read(*dev, 3, in.get() + 3, data.size()), 0);
  EXPECT_EQ(std::memcmp(in.get() + 3, data.data(), data.size()), 0);
}

TEST_F(FileBackendTest, MultiIovecPayloadWithOffset) {
  const std::string path = MakeFile("/var/tmp", 1 << 20);
  auto dev = Open(path);
  ASSERT_TRUE(dev);
  // 2 sectors of payload that start 100 bytes into a list of 3 uneven pieces,
  // followed by bytes that must not be written.
  const std::vector<char> data = Pattern(2 * kSectorSize, 3);
  Buffer a(300), b(700), c(500);
  std::memcpy(a.get() + 100, data.data(), 200);
  std::memcpy(b.get(), data.data() + 200, 700);
  std::memcpy(c.get(), data.data() + 900, 124);
  const iovec out[] = {{a.get(), 300}, {b.get(), 700}, {c.get(), 500}};
  ASSERT_EQ(Run(*dev, Op::kWrite, 10, 2, out, 3, 100), 0);
  EXPECT_EQ(FileBytes(path, 10 * kSectorSize, data.size()), data);
  EXPECT_EQ(FileBytes(path, 12 * kSectorSize, 16), std::vector<char>(16, 0));

  Buffer x(4096), y(4096);
  const iovec in[] = {{x.get(), 1000}, {y.get(), 4096}};
  ASSERT_EQ(Run(*dev, Op::kRead, 10, 2, in, 2, 600), 0);
  EXPECT_EQ(std::memcmp(x.get() + 600, data.data(), 400), 0);
  EXPECT_EQ(std::memcmp(y.get(), data.data() + 400, 624), 0);
  EXPECT_EQ(static_cast<unsigned char>(y.get()[624]), 0xee);  // untouched past the payload

  // Aligned pieces (direct I/O can take them) in a list longer than needed.
  Buffer p(3 * 4096);
  std::memcpy(p.get() + 4096, data.data(), data.size());
  const iovec aligned[] = {{p.get(), 4096}, {p.get() + 4096, 4096}, {p.get() + 8192, 4096}};
  ASSERT_EQ(Run(*dev, Op::kWrite, 20, 2, aligned, 3, 4096), 0);
  EXPECT_EQ(FileBytes(path, 20 * kSectorSize, data.size()), data);
  EXPECT_EQ(FileBytes(path, 22 * kSectorSize, 16), std::vector<char>(16, 0));
  std::memset(p.get(), 0, 3 * 4096);
  ASSERT_EQ(Run(*dev, Op::kRead, 20, 2, aligned, 3, 4096), 0);
  EXPECT_EQ(std::memcmp(p.get() + 4096, data.data(), data.size()), 0);
  EXPECT_EQ(p.get()[4096 + data.size()], 0);
}

TEST_F(FileBackendTest, FuaWritePreflushAndFlushComplete) {
  const std::string path = MakeFile("/var/tmp", 1 << 20);
  auto dev = Open(path);
  ASSERT_TRUE(dev);
  const std::vector<char> data = Pattern(4096, 4);
  Buffer out(data.size());
  std::memcpy(out.get(), data.data(), data.size());
  EXPECT_EQ(Write(*dev, 0, out.get(), data.size(), kFua), 0);
  EXPECT_EQ(Write(*dev, 16, out.get(), data.size(), kPreflush | kFua), 0);
  EXPECT_EQ(Run(*dev, Op::kFlush, 0, 0), 0);
  EXPECT_EQ(Run(*dev, Op::kFlush, 0, 0, nullptr, 0, 0, kPreflush), 0);
  EXPECT_EQ(FileBytes(path, 0, data.size()), data);
  EXPECT_EQ(FileBytes(path, 16 * kSectorSize, data.size()), data);
}

TEST_F(FileBackendTest, FlushReachesTheDeviceOnlyWhenSomethingWasWritten) {
  const std::string path = MakeFile("/var/tmp", 1 << 20);
  auto dev = Open(path);
  ASSERT_TRUE(dev);
  Buffer buf(4096);
  std::memset(buf.get(), 7, 4096);
  // What was written before this backend opened the file is not known to
  // be durable: the first flush always goes to the device.
  EXPECT_EQ(Run(*dev, Op::kFlush, 0, 0), 0);
  EXPECT_EQ(dev->cache_flushes(), 1u);
  EXPECT_EQ(Run(*dev, Op::kFlush, 0, 0), 0);
  EXPECT_EQ(dev->cache_flushes(), 1u) << "nothing was written since";
  EXPECT_EQ(Read(*dev, 0, buf.get(), 4096), 0);
  EXPECT_EQ(Run(*dev, Op::kFlush, 0, 0), 0);
  EXPECT_EQ(dev->cache_flushes(), 1u) << "a read dirties nothing";

  ASSERT_EQ(Write(*dev, 8, buf.get(), 4096), 0);
  EXPECT_EQ(Run(*dev, Op::kFlush, 0, 0), 0);
  EXPECT_EQ(dev->cache_flushes(), 2u);
  // A pre-flush on a clean device is skipped; its write dirties it again.
  ASSERT_EQ(Write(*dev, 16, buf.get(), 4096, kPreflush), 0);
  EXPECT_EQ(dev->cache_flushes(), 2u);
  EXPECT_EQ(Run(*dev, Op::kFlush, 0, 0, nullptr, 0, 0, kPreflush), 0);
  EXPECT_EQ(dev->cache_flushes(), 3u);
  // A pre-flush after a write goes to the device.
  ASSERT_EQ(Write(*dev, 24, buf.get(), 4096), 0);
  ASSERT_EQ(Write(*dev, 32, buf.get(), 4096, kPreflush), 0);
  EXPECT_EQ(dev->cache_flushes(), 4u);
  EXPECT_EQ(Run(*dev, Op::kFlush, 0, 0), 0);
  EXPECT_EQ(dev->cache_flushes(), 5u) << "the pre-flushed write came after the pre-flush";
  // Discard and write-zeroes change the file too.
  EXPECT_EQ(Run(*dev, Op::kDiscard, 64, 8), 0);
  EXPECT_EQ(Run(*dev, Op::kFlush, 0, 0), 0);
  EXPECT_EQ(dev->cache_flushes(), 6u);
  EXPECT_EQ(Run(*dev, Op::kWriteZeroes, 64, 8), 0);
  EXPECT_EQ(Run(*dev, Op::kFlush, 0, 0), 0);
  EXPECT_EQ(Run(*dev, Op::kFlush, 0, 0), 0);
  EXPECT_EQ(dev->cache_flushes(), 7u);

  // Another opener (a reloaded table) does not trust this one's record.
  auto again = Open(path);
  ASSERT_TRUE(again);
  EXPECT_EQ(Run(*again, Op::kFlush, 0, 0), 0);
  EXPECT_EQ(again->cache_flushes(), 1u);
}

TEST_F(FileBackendTest, DiscardAndWriteZeroesReadBackZeros) {
  // ext4 punches holes and zeroes ranges; tmpfs has no ZERO_RANGE, so
  // write-zeroes falls back to writing zeros (more than one chunk here).
  for (const char* dir : {"/var/tmp", "/dev/shm"}) {
    SCOPED_TRACE(dir);
    const uint64_t bytes = 4 << 20;
    const std::string path = MakeFile(dir, bytes);
    auto dev = Open(path);
    ASSERT_TRUE(dev);
    const std::vector<char> data = Pattern(bytes, 5);
    Buffer buf(bytes);
    std::memcpy(buf.get(), data.data(), bytes);
    ASSERT_EQ(Write(*dev, 0, buf.get(), bytes), 0);

    // Discard 4 KiB; zero 750 KiB from an odd sector, FUA.
    EXPECT_EQ(Run(*dev, Op::kDiscard, 8, 8), 0);
    EXPECT_EQ(Run(*dev, Op::kWriteZeroes, 100, 1500, nullptr, 0, 0, kFua), 0);

    std::vector<char> expect = data;
    std::memset(expect.data() + 8 * kSectorSize, 0, 8 * kSectorSize);
    std::memset(expect.data() + 100 * kSectorSize, 0, 1500 * kSectorSize);
    ASSERT_EQ(Read(*dev, 0, buf.get(), bytes), 0);
    EXPECT_TRUE(std::memcmp(buf.get(), expect.data(), bytes) == 0);
    EXPECT_EQ(FileBytes(path, 0, bytes), expect);
  }
}

TEST_F(FileBackendTest, RequestsBeyondTheEndFailWithEio) {
  const std::string path = MakeFile("/var/tmp", 64 * kSectorSize);
  auto dev = Open(path);
  ASSERT_TRUE(dev);
  Buffer buf(4096);
  EXPECT_EQ(Read(*dev, 64, buf.get(), kSectorSize), -EIO);
  EXPECT_EQ(Read(*dev, 60, buf.get(), 4096), -EIO);  // straddles the end
  EXPECT_EQ(Write(*dev, 63, buf.get(), 1024), -EIO);
  EXPECT_EQ(Run(*dev, Op::kDiscard, 60, 8), -EIO);
  EXPECT_EQ(Read(*dev, 56, buf.get(), 4096), 0);  // the last 8 sectors are fine
  struct stat st {};
  ASSERT_EQ(stat(path.c_str(), &st), 0);
  EXPECT_EQ(st.st_size, 64 * static_cast<off_t>(kSectorSize));  // the file did not grow
}

TEST_F(FileBackendTest, ReadOfTruncatedFileFailsWithEio) {
  for (bool direct : {true, false}) {
    SCOPED_TRACE(direct ? "direct" : "buffered");
    const std::string path = MakeFile("/var/tmp", 1 << 20);
    auto dev = Open(path, {.writable = true, .allow_direct = direct});
    ASSERT_TRUE(dev);
    ASSERT_EQ(truncate(path.c_str(), 4096), 0);
    Buffer buf(8192);
    EXPECT_EQ(Read(*dev, 16, buf.get(), 4096), -EIO);  // wholly past the new end
    EXPECT_EQ(Read(*dev, 4, buf.get(), 8192), -EIO);   // partly past it
    EXPECT_EQ(dev->last_error(), -EIO);
  }
}

TEST_F(FileBackendTest, OpenErrorsNameThePath) {
  const std::string missing = "/var/tmp/udm_no_such_dir/backing.img";
  auto dev = OpenFileBackend(missing, worker_, {});
  ASSERT_FALSE(dev);
  EXPECT_EQ(dev.error().code, ErrorCode::kNotFound);
  EXPECT_EQ(dev.error().message, "open " + missing + ": No such file or directory");

  for (bool writable : {true, false}) {
    auto dir = OpenFileBackend("/var/tmp", worker_, {.writable = writable});
    ASSERT_FALSE(dir);
    EXPECT_NE(dir.error().message.find("/var/tmp"), std::string::npos) << dir.error().message;
  }

  std::string fifo = "/var/tmp/udm_file_backend_fifo_" + std::to_string(getpid());
  ASSERT_EQ(mkfifo(fifo.c_str(), 0600), 0);
  paths_.push_back(fifo);
  auto pipe = OpenFileBackend(fifo, worker_, {});  // must not block
  ASSERT_FALSE(pipe);
  EXPECT_NE(pipe.error().message.find(fifo), std::string::npos) << pipe.error().message;
}

TEST_F(FileBackendTest, ReadOnlyBackendRefusesWrites) {
  const std::string path = MakeFile("/var/tmp", 1 << 20);
  auto dev = Open(path, {.writable = false});
  ASSERT_TRUE(dev);
  Buffer buf(4096);
  std::memset(buf.get(), 0x5a, 4096);
  EXPECT_EQ(Write(*dev, 0, buf.get(), 4096), -EROFS);
  EXPECT_EQ(Run(*dev, Op::kDiscard, 0, 8), -EROFS);
  EXPECT_EQ(Run(*dev, Op::kWriteZeroes, 0, 8), -EROFS);
  EXPECT_EQ(Run(*dev, Op::kFlush, 0, 0), 0);
  EXPECT_EQ(Read(*dev, 0, buf.get(), 4096), 0);
  EXPECT_EQ(std::vector<char>(buf.get(), buf.get() + 4096), std::vector<char>(4096, 0));
}

TEST_F(FileBackendTest, ManyConcurrentRequestsCompleteOnceWithCorrectData) {
  constexpr int kPerThread = 500;
  const std::string path = MakeFile("/var/tmp", 2 * kPerThread * 4096);
  auto dev = Open(path);
  ASSERT_TRUE(dev);

  struct Slot {
    Bio bio;
    iovec iov;
    Completions* done;
    std::atomic<int> calls{0};
  };
  auto slots = std::make_unique<Slot[]>(2 * kPerThread);
  Buffer buf(2 * kPerThread * 8192);
  auto block = [&](int i) { return buf.get() + i * 8192 + (i & 1); };
  Completions done;
  auto end_io = [](Bio* bio, int status) {
    auto* slot = static_cast<Slot*>(bio->private_data);
    slot->calls.fetch_add(1);
    slot->done->Count(status);
  };
  // Each request has its own 4 KiB block; odd ones sit in unaligned memory.
  auto submit = [&](int first, Op op) {
    for (int i = first; i < first + kPerThread; ++i) {
      Slot& s = slots[i];
      s.iov = {block(i), 4096};
      s.bio = Bio{};
      s.bio.op = op;
      s.bio.sector = static_cast<uint64_t>(i) * 8;
      s.bio.sectors = 8;
      s.bio.iov = &s.iov;
      s.bio.iov_count = 1;
      s.bio.end_io = end_io;
      s.bio.private_data = &s;
      s.done = &done;
      dev->Submit(&s.bio);
    }
  };
  for (int i = 0; i < 2 * kPerThread; ++i) std::memset(block(i), i % 251, 4096);
  {
    std::jthread a(submit, 0, Op::kWrite), b(submit, kPerThread, Op::kWrite);
  }
  ASSERT_TRUE(done.WaitFor(2 * kPerThread));
  std::memset(buf.get(), 0, buf.size);
  {
    std::jthread a(submit, 0, Op::kRead), b(submit, kPerThread, Op::kRead);
  }
  ASSERT_TRUE(done.WaitFor(4 * kPerThread));
  std::this_thread::sleep_for(10ms);
  EXPECT_EQ(done.calls, 4 * kPerThread);
  EXPECT_EQ(done.failures, 0);
  for (int i = 0; i < 2 * kPerThread; ++i) {
    ASSERT_EQ(slots[i].calls.load(), 2) << i;
    ASSERT_EQ(block(i)[0], static_cast<char>(i % 251)) << i;
    ASSERT_EQ(block(i)[4095], static_cast<char>(i % 251)) << i;
  }
  for (int i : {0, 777}) {
    EXPECT_EQ(FileBytes(path, i * 4096, 4096), std::vector<char>(4096, static_cast<char>(i % 251)));
  }
}

TEST_F(FileBackendTest, ModeSaysWhenODirectIsRefused) {
  // procfs refuses O_DIRECT on every kernel; tmpfs did before Linux 6.6.
  auto proc = Open("/proc/version", {.writable = false});
  ASSERT_TRUE(proc);
  EXPECT_EQ(proc->mode(), "buffered: O_DIRECT refused");

  const std::string path = MakeFile("/dev/shm", 1 << 20);
  auto shm = Open(path);
  ASSERT_TRUE(shm);
  EXPECT_EQ(shm->mode(), DirectAllowed("/dev/shm") ? "direct" : "buffered: O_DIRECT refused");
  const std::vector<char> data = Pattern(8192, 6);
  Buffer buf(data.size());
  std::memcpy(buf.get(), data.data(), data.size());
  ASSERT_EQ(Write(*shm, 2, buf.get(), data.size()), 0);
  EXPECT_EQ(FileBytes(path, 2 * kSectorSize, data.size()), data);

  auto buffered = Open(path, {.writable = true, .allow_direct = false});
  ASSERT_TRUE(buffered);
  EXPECT_EQ(buffered->mode(), "buffered");
}

TEST_F(FileBackendTest, WorkerStartFailsWithBadRingSize) {
  auto worker = UringWorker::Start(0);
  ASSERT_FALSE(worker);
  EXPECT_NE(worker.error().message.find("io_uring_queue_init"), std::string::npos);
}

}  // namespace
}  // namespace udm
