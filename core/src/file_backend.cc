// FileBackend: files and block devices as BlockDevices through io_uring.
// A RingWorker thread owns each ring; Submit() posts a FileRequest, a small
// state machine (preflush, payload, postflush) the ring thread steps to its end.
#include "udm/file_backend.h"

#include <fcntl.h>
#include <liburing.h>
#include <poll.h>
#include <sys/eventfd.h>
#include <sys/ioctl.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/uio.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <deque>
#include <mutex>
#include <span>
#include <thread>
#include <utility>
#include <vector>

#include "udm/check.h"
#include "udm/thread_ring.h"

namespace udm {
namespace {

constexpr size_t kMaxIov = 1024;            // IOV_MAX: longer lists go in pieces
constexpr size_t kZeroChunk = 256 * 1024;   // bytes per write-zeroes fallback write
alignas(4096) char zero_chunk[kZeroChunk];  // never written: the source of zeros

}  // namespace

// One request on a ring, taken one step (one SQE) at a time.
class UringOp {
 public:
  // Ring thread only. Fills `sqe` for the next step.
  virtual void Prep(io_uring_sqe* sqe) = 0;
  // Ring thread only. Takes the result of that step. Returns true when the
  // op needs another step, false when it has finished and freed itself.
  virtual bool OnCqe(int res) = 0;
  // Any thread. Hands the op's next step to the shared worker thread.
  virtual void PostToWorker() = 0;

 protected:
  ~UringOp() = default;
};

// --- ThreadRing ------------------------------------------------------------

namespace {
thread_local ThreadRing* t_ring = nullptr;
}  // namespace

ThreadRing::~ThreadRing() {
  UDM_CHECK(inflight_ == 0 && again_.empty());
  if (t_ring == this) t_ring = nullptr;
}

void ThreadRing::Bind() { t_ring = this; }

void ThreadRing::Unbind() {
  if (t_ring == this) t_ring = nullptr;
}

bool ThreadRing::TryPost(UringOp* op) {
  ThreadRing* r = t_ring;
  return r != nullptr && r->Prep(op);
}

bool ThreadRing::Prep(UringOp* op) {
  if (inflight_ >= max_inflight_) return false;
  io_uring_sqe* sqe = io_uring_get_sqe(ring_);
  if (sqe == nullptr) {  // full: submit what is there and retry once
    if (io_uring_submit(ring_) < 0) return false;
    sqe = io_uring_get_sqe(ring_);
    if (sqe == nullptr) return false;
  }
  op->Prep(sqe);
  io_uring_sqe_set_data(sqe, op);
  ++inflight_;
  return true;
}

void ThreadRing::Complete(uint64_t user_data, int res) {
  auto* op = reinterpret_cast<UringOp*>(user_data);
  --inflight_;
  if (op->OnCqe(res)) again_.push_back(op);
}

void ThreadRing::Flush() {
  // A step that finds no room goes to the shared worker; an op may move
  // between rings at any step, since each step is one self-contained SQE.
  std::vector<UringOp*> ops;
  ops.swap(again_);
  for (UringOp* op : ops) {
    if (!Prep(op)) op->PostToWorker();
  }
}

namespace {

// The only UringWorker. Lock order: mu_ is a leaf.
class RingWorker final : public UringWorker {
 public:
  ~RingWorker() override;
  Status Init(unsigned entries);
  // Any thread; never waits for I/O. The worker owns `op` until it finishes.
  void Post(UringOp* op);

 private:
  void Run();
  bool TakePosted();  // false when stopping and idle: time to exit
  void PrepReady();
  void SubmitAndWait();
  void Reap();
  void Wake();

  io_uring ring_{};
  bool ring_ready_ = false;
  int wake_fd_ = -1;  // eventfd; the ring thread keeps a poll armed on it

  // Ring thread only.
  std::vector<UringOp*> taken_;
  std::deque<UringOp*> ready_;  // waiting for an SQE
  unsigned inflight_ = 0;       // op SQEs submitted whose CQE is not reaped
  unsigned max_inflight_ = 0;   // CQ size less the wake poll's slot
  bool wake_armed_ = false;

  std::mutex mu_;
  std::vector<UringOp*> posted_;  // guarded by mu_
  bool sleeping_ = false;         // guarded by mu_; true: posters must Wake()
  bool stopping_ = false;         // guarded by mu_
  std::jthread thread_;
};

RingWorker::~RingWorker() {
  if (thread_.joinable()) {
    UDM_CHECK(thread_.get_id() != std::this_thread::get_id());
    bool wake;
    {
      std::lock_guard g(mu_);
      stopping_ = true;
      wake = std::exchange(sleeping_, false);
    }
    if (wake) Wake();
    thread_.join();
  }
  if (ring_ready_) io_uring_queue_exit(&ring_);
  if (wake_fd_ >= 0) close(wake_fd_);
}

Status RingWorker::Init(unsigned entries) {
  wake_fd_ = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
  if (wake_fd_ < 0) return SysError(errno, "eventfd");
  const int r = io_uring_queue_init(entries, &ring_, 0);
  if (r < 0) return SysError(-r, fmt::format("io_uring_queue_init({})", entries));
  ring_ready_ = true;
  max_inflight_ = ring_.cq.ring_entries - 1;
  thread_ = std::jthread([this] { Run(); });
  return {};
}

void RingWorker::Post(UringOp* op) {
  bool wake;
  {
    std::lock_guard g(mu_);
    posted_.push_back(op);
    wake = std::exchange(sleeping_, false);
  }
  if (wake) Wake();
}

void RingWorker::Wake() {
  const uint64_t one = 1;
  [[maybe_unused]] ssize_t n = write(wake_fd_, &one, sizeof(one));
}

void RingWorker::Run() {
  while (TakePosted()) {
    PrepReady();
    SubmitAndWait();
    Reap();
  }
}

bool RingWorker::TakePosted() {
  {
    std::lock_guard g(mu_);
    sleeping_ = false;
    taken_.swap(posted_);
    if (stopping_ && taken_.empty() && ready_.empty() && inflight_ == 0) return false;
  }
  ready_.insert(ready_.end(), taken_.begin(), taken_.end());
  taken_.clear();
  return true;
}

// Fills free SQEs; what does not fit stays in ready_ for the next round.
void RingWorker::PrepReady() {
  if (!wake_armed_) {
    io_uring_sqe* sqe = io_uring_get_sqe(&ring_);
    UDM_CHECK(sqe != nullptr);  // the SQ is empty after every submit
    io_uring_prep_poll_add(sqe, wake_fd_, POLLIN);
    io_uring_sqe_set_data(sqe, nullptr);
    wake_armed_ = true;
  }
  while (!ready_.empty() && inflight_ < max_inflight_) {
    io_uring_sqe* sqe = io_uring_get_sqe(&ring_);
    if (sqe == nullptr) break;
    UringOp* op = ready_.front();
    ready_.pop_front();
    op->Prep(sqe);
    io_uring_sqe_set_data(sqe, op);
    ++inflight_;
  }
}

// Blocks only when nothing can be submitted; then a poster or a CQE wakes us.
void RingWorker::SubmitAndWait() {
  bool wait = inflight_ >= max_inflight_;
  if (!wait && ready_.empty()) {
    std::lock_guard g(mu_);
    wait = posted_.empty() && !(stopping_ && inflight_ == 0);
    sleeping_ = wait;
  }
  const int r = wait ? io_uring_submit_and_wait(&ring_, 1) : io_uring_submit(&ring_);
  UDM_CHECK(r >= 0 || r == -EINTR || r == -EAGAIN || r == -EBUSY);
}

void RingWorker::Reap() {
  io_uring_cqe* cqe = nullptr;
  while (io_uring_peek_cqe(&ring_, &cqe) == 0) {
    auto* op = static_cast<UringOp*>(io_uring_cqe_get_data(cqe));
    const int res = cqe->res;
    io_uring_cqe_seen(&ring_, cqe);
    if (op == nullptr) {  // the wake poll fired: reset the eventfd, re-arm later
      uint64_t count;
      [[maybe_unused]] ssize_t n = read(wake_fd_, &count, sizeof(count));
      wake_armed_ = false;
      continue;
    }
    --inflight_;
    if (op->OnCqe(res)) ready_.push_back(op);
  }
}

class UniqueFd {
 public:
  UniqueFd() = default;
  explicit UniqueFd(int fd) : fd_(fd) {}
  UniqueFd(UniqueFd&& other) noexcept : fd_(std::exchange(other.fd_, -1)) {}
  UniqueFd& operator=(UniqueFd&& other) noexcept {
    std::swap(fd_, other.fd_);
    return *this;
  }
  ~UniqueFd() {
    if (fd_ >= 0) close(fd_);
  }
  int get() const { return fd_; }

 private:
  int fd_ = -1;
};

// What opening a file found out.
struct OpenedFile {
  UniqueFd direct;    // O_DIRECT descriptor; -1 when buffered only
  UniqueFd buffered;  // always open
  uint64_t sectors = 0;
  bool regular = false;         // a regular file (else a block device)
  uint32_t mem_align = 512;     // direct I/O: memory address alignment
  uint32_t offset_align = 512;  // direct I/O: offset and segment length alignment
  std::string mode;
};

class FileBackend final : public BlockDevice {
 public:
  FileBackend(std::string name, std::shared_ptr<UringWorker> worker, RingWorker& ring,
              OpenedFile file, bool writable)
      : name_(std::move(name)),
        worker_(std::move(worker)),
        ring_(ring),
        file_(std::move(file)),
        writable_(writable) {}

  // The backend must outlive the requests submitted to it.
  void Submit(Bio* bio) override;
  uint64_t sectors() const override { return file_.sectors; }
  const std::string& name() const override { return name_; }
  std::string mode() const override { return file_.mode; }
  int last_error() const override { return last_error_.load(std::memory_order_relaxed); }
  uint64_t cache_flushes() const override { return cache_flushes_.load(); }

  RingWorker& worker_ring() const { return ring_; }
  // Ring thread helpers for FileRequest.
  int sync_fd() const { return file_.buffered.get(); }
  int direct_fd() const { return file_.direct.get(); }
  // The descriptor for a transfer: direct when it meets the alignment rules.
  int FdFor(std::span<const iovec> iov, uint64_t offset, bool buffered_only) const;
  // Cache flush tracking. A write that reached the file counts once its
  // result is in (before its bio completes); a cache flush covers what was
  // counted when it was issued.
  void NoteWrite() { writes_.fetch_add(1); }
  // Before issuing a cache flush: what it will cover.
  uint64_t CacheFlushIssued() {
    cache_flushes_.fetch_add(1);
    return writes_.load();
  }
  // After it succeeded: everything up to `covered` is durable.
  void CacheFlushDone(uint64_t covered) {
    uint64_t d = durable_.load();
    while (d < covered && !durable_.compare_exchange_weak(d, covered)) {
    }
  }
  // Nothing written since the last successful cache flush was issued.
  bool Clean() const { return writes_.load() <= durable_.load(); }
  // Remembers a failure of the file for last_error(); returns `res`.
  int Record(int res) {
    last_error_.store(res, std::memory_order_relaxed);
    return res;
  }

 private:
  int Validate(const Bio& bio) const;  // 0, or -errno to fail with untouched

  const std::string name_;
  const std::shared_ptr<UringWorker> worker_;  // keeps ring_ alive
  RingWorker& ring_;
  const OpenedFile file_;
  const bool writable_;
  std::atomic<int> last_error_{0};  // -errno or 0
  // Writes counted (NoteWrite) and how many of them a successful cache
  // flush covers. Starting at 1: what was written before this backend
  // opened the file (an earlier table, another program) is not known to be
  // durable, so the first flush always goes to the device.
  std::atomic<uint64_t> writes_{1};
  std::atomic<uint64_t> durable_{0};
  std::atomic<uint64_t> cache_flushes_{0};
};

int FileBackend::FdFor(std::span<const iovec> iov, uint64_t offset, bool buffered_only) const {
  if (file_.direct.get() < 0 || buffered_only || offset % file_.offset_align != 0) {
    return file_.buffered.get();
  }
  for (const iovec& v : iov) {
    if (reinterpret_cast<uintptr_t>(v.iov_base) % file_.mem_align != 0 ||
        v.iov_len % file_.offset_align != 0) {
      return file_.buffered.get();
    }
  }
  return file_.direct.get();
}

int FileBackend::Validate(const Bio& bio) const {
  if (bio.is_write_like() && !writable_) return -EROFS;
  if (bio.op == Op::kFlush) return 0;
  if (bio.end_sector() > file_.sectors || bio.end_sector() < bio.sector) return -EIO;
  if (bio.has_data() && bio.sectors != 0 && bio.iov == nullptr) return -EINVAL;
  if (file_.regular && (bio.op == Op::kWrite || bio.op == Op::kWriteZeroes)) {
    // A file truncated under a live volume: writing past its new end would
    // silently grow it and make the lost range read back as zeros. Fail
    // the write instead, as reads there fail, until the file is restored.
    // Only the size is asked for: asking for the times (fstat does) makes
    // the next write stamp a fine-grained ctime, which dirties the inode on
    // every write and doubles the cost of each fdatasync on ext4.
    struct statx stx {};
    if (statx(file_.buffered.get(), "", AT_EMPTY_PATH, STATX_SIZE, &stx) == 0 &&
        (stx.stx_mask & STATX_SIZE) != 0 && stx.stx_size < bio.end_sector() << kSectorShift) {
      return -EIO;
    }
  }
  return 0;
}

// Points at the `len` payload bytes starting `skip` bytes into `bio`'s
// iovec list (at most kMaxIov segments), copying into `scratch` if trimmed.
std::span<const iovec> SlicePayload(const Bio& bio, uint64_t skip, uint64_t len,
                                    std::vector<iovec>& scratch) {
  const std::span<const iovec> all(bio.iov, bio.iov_count);
  uint64_t total = 0;
  for (const iovec& v : all) total += v.iov_len;
  if (skip == 0 && total == len && all.size() <= kMaxIov) return all;
  scratch.clear();
  for (const iovec& v : all) {
    if (len == 0 || scratch.size() == kMaxIov) break;
    if (skip >= v.iov_len) {
      skip -= v.iov_len;
      continue;
    }
    const uint64_t n = std::min<uint64_t>(v.iov_len - skip, len);
    scratch.push_back(iovec{static_cast<char*>(v.iov_base) + skip, n});
    len -= n;
    skip = 0;
  }
  return scratch;
}

// One bio on its way through the ring. Steps: [preflush] main [postflush].
class FileRequest final : public UringOp {
 public:
  FileRequest(FileBackend* backend, Bio* bio, int status)
      : backend_(backend), bio_(bio), status_(status) {
    if (status_ != 0) {
      step_ = Step::kNop;
    } else if ((bio->flags & kPreflush) && bio->op != Op::kFlush && !backend->Clean()) {
      step_ = Step::kPreflush;
    } else {
      step_ = MainStep();
    }
  }

  void Prep(io_uring_sqe* sqe) override;
  bool OnCqe(int res) override;
  void PostToWorker() override;

 private:
  enum class Step : uint8_t { kNop, kPreflush, kTransfer, kFallocate, kSync };

  Step MainStep() const;
  bool AfterMain();
  bool OnTransfer(int res);
  bool OnFallocate(int res);
  void PrepTransfer(io_uring_sqe* sqe);
  int FallocateMode() const;
  bool Finish(int status);

  FileBackend* const backend_;
  Bio* const bio_;
  Step step_ = Step::kNop;
  int status_;                  // the result kNop completes with
  bool zero_fill_ = false;      // write-zeroes by writing zeros
  bool buffered_only_ = false;  // the direct descriptor refused this request
  bool used_direct_ = false;    // the last transfer went to the direct descriptor
  uint64_t done_ = 0;           // payload bytes transferred so far
  uint64_t covered_ = 0;        // the writes the cache flush in flight covers
  std::vector<iovec> iov_;      // the trimmed payload, when the bio's will not do
};

FileRequest::Step FileRequest::MainStep() const {
  switch (bio_->op) {
    case Op::kRead:
    case Op::kWrite: return bio_->sectors == 0 ? Step::kNop : Step::kTransfer;
    case Op::kFlush: return Step::kSync;
    case Op::kDiscard:
    case Op::kWriteZeroes: return bio_->sectors == 0 ? Step::kNop : Step::kFallocate;
  }
  return Step::kNop;
}

void FileRequest::Prep(io_uring_sqe* sqe) {
  const uint64_t offset = bio_->sector << kSectorShift;
  switch (step_) {
    case Step::kNop: io_uring_prep_nop(sqe); break;
    case Step::kPreflush:
    case Step::kSync:
      covered_ = backend_->CacheFlushIssued();
      io_uring_prep_fsync(sqe, backend_->sync_fd(), IORING_FSYNC_DATASYNC);
      break;
    case Step::kTransfer: PrepTransfer(sqe); break;
    case Step::kFallocate:
      io_uring_prep_fallocate(sqe, backend_->sync_fd(), FallocateMode(), static_cast<off_t>(offset),
                              static_cast<off_t>(bio_->bytes()));
      break;
  }
}

void FileRequest::PrepTransfer(io_uring_sqe* sqe) {
  const uint64_t left = bio_->bytes() - done_;
  const uint64_t offset = (bio_->sector << kSectorShift) + done_;
  std::span<const iovec> iov;
  if (zero_fill_) {
    iov_.assign(1, iovec{zero_chunk, std::min<uint64_t>(left, kZeroChunk)});
    iov = iov_;
  } else {
    iov = SlicePayload(*bio_, bio_->iov_offset + done_, left, iov_);
  }
  const int fd = backend_->FdFor(iov, offset, buffered_only_);
  used_direct_ = fd == backend_->direct_fd();
  const auto count = static_cast<unsigned>(iov.size());
  if (bio_->op == Op::kRead) {
    io_uring_prep_readv2(sqe, fd, iov.data(), count, offset, 0);
  } else {
    const int flags = (bio_->op == Op::kWrite && (bio_->flags & kFua)) ? RWF_DSYNC : 0;
    io_uring_prep_writev2(sqe, fd, iov.data(), count, offset, flags);
  }
}

int FileRequest::FallocateMode() const {
  return bio_->op == Op::kDiscard ? FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE
                                  : FALLOC_FL_ZERO_RANGE | FALLOC_FL_KEEP_SIZE;
}

bool FileRequest::OnCqe(int res) {
  if (res == -EAGAIN && step_ != Step::kNop) return true;
  switch (step_) {
    case Step::kNop: return Finish(status_);
    case Step::kPreflush:
      if (res < 0) return Finish(backend_->Record(res));
      backend_->CacheFlushDone(covered_);
      step_ = MainStep();
      return step_ == Step::kNop ? Finish(0) : true;
    case Step::kTransfer: return OnTransfer(res);
    case Step::kFallocate: return OnFallocate(res);
    case Step::kSync:
      if (res < 0) return Finish(backend_->Record(res));
      backend_->CacheFlushDone(covered_);
      return Finish(0);
  }
  return Finish(-EIO);
}

bool FileRequest::OnTransfer(int res) {
  if (bio_->op != Op::kRead) backend_->NoteWrite();  // even a failed one may have landed
  if (res == -EINVAL && used_direct_) {  // misjudged alignment: go buffered
    buffered_only_ = true;
    return true;
  }
  if (res < 0) return Finish(backend_->Record(res));
  if (res == 0) return Finish(backend_->Record(-EIO));  // past the end of the file
  done_ += static_cast<uint64_t>(res);
  return done_ < bio_->bytes() ? true : AfterMain();
}

bool FileRequest::OnFallocate(int res) {
  backend_->NoteWrite();
  if (bio_->op == Op::kWriteZeroes && (res == -EOPNOTSUPP || res == -EINVAL)) {
    zero_fill_ = true;
    step_ = Step::kTransfer;
    return true;
  }
  if (res < 0) return Finish(backend_->Record(res));
  return AfterMain();
}

// Writes carry FUA as RWF_DSYNC; discard and write-zeroes sync afterwards.
bool FileRequest::AfterMain() {
  if ((bio_->flags & kFua) && bio_->op != Op::kRead && bio_->op != Op::kWrite) {
    step_ = Step::kSync;
    return true;
  }
  return Finish(0);
}

bool FileRequest::Finish(int status) {
  Bio* bio = bio_;
  delete this;
  bio->Complete(status);
  return false;
}

void FileRequest::PostToWorker() { backend_->worker_ring().Post(this); }

// On a thread with its own ring (see ThreadRing) the request is issued right
// here and completes on this thread; elsewhere the worker thread takes it.
void FileBackend::Submit(Bio* bio) {
  // A flush with nothing written since the last cache flush was issued and
  // succeeded: every write completed before it is already durable.
  if (bio->op == Op::kFlush && writable_ && Clean()) {
    bio->Complete(0);
    return;
  }
  auto* req = new FileRequest(this, bio, Validate(*bio));
  if (!ThreadRing::TryPost(req)) ring_.Post(req);
}

void ProbeDirectAlignment(int fd, bool block_device, OpenedFile& file) {
#ifdef STATX_DIOALIGN
  struct statx stx {};
  if (statx(fd, "", AT_EMPTY_PATH, STATX_DIOALIGN, &stx) == 0 && (stx.stx_mask & STATX_DIOALIGN) &&
      stx.stx_dio_mem_align != 0 && stx.stx_dio_offset_align != 0) {
    file.mem_align = stx.stx_dio_mem_align;
    file.offset_align = stx.stx_dio_offset_align;
    return;
  }
#endif
  int logical_block = 0;
  if (block_device && ioctl(fd, BLKSSZGET, &logical_block) == 0 && logical_block > 0) {
    file.mem_align = file.offset_align = static_cast<uint32_t>(logical_block);
  }
}

std::unexpected<Error> NotAFileOrBlockDevice(const std::string& path, mode_t mode) {
  return Fail(ErrorCode::kInvalidArgument, S_ISDIR(mode) ? EISDIR : EINVAL,
              "open {}: not a regular file or block device", path);
}

Status ReadSize(const std::string& path, OpenedFile& file) {
  struct stat st {};
  if (fstat(file.buffered.get(), &st) != 0) return SysError(errno, "stat " + path);
  if (S_ISREG(st.st_mode)) {
    file.regular = true;
    file.sectors = static_cast<uint64_t>(st.st_size) >> kSectorShift;
    return {};
  }
  if (!S_ISBLK(st.st_mode)) return NotAFileOrBlockDevice(path, st.st_mode);
  uint64_t bytes = 0;
  if (ioctl(file.buffered.get(), BLKGETSIZE64, &bytes) != 0) {
    return SysError(errno, "BLKGETSIZE64 " + path);
  }
  file.sectors = bytes >> kSectorShift;
  return {};
}

Result<OpenedFile> OpenFile(const std::string& path, const FileBackendOptions& options) {
  // Check the type first: opening a FIFO would block.
  struct stat st {};
  if (stat(path.c_str(), &st) != 0) return SysError(errno, "open " + path);
  if (!S_ISREG(st.st_mode) && !S_ISBLK(st.st_mode)) return NotAFileOrBlockDevice(path, st.st_mode);

  OpenedFile file;
  const int flags = (options.writable ? O_RDWR : O_RDONLY) | O_CLOEXEC;
  if (options.allow_direct) {
    file.direct = UniqueFd(open(path.c_str(), flags | O_DIRECT));
    if (file.direct.get() < 0 && errno != EINVAL) return SysError(errno, "open " + path);
  }
  file.buffered = UniqueFd(open(path.c_str(), flags));
  if (file.buffered.get() < 0) return SysError(errno, "open " + path);
  if (auto size = ReadSize(path, file); !size) return std::unexpected(size.error());

  if (file.direct.get() >= 0) {
    file.mode = "direct";
    ProbeDirectAlignment(file.direct.get(), S_ISBLK(st.st_mode), file);
  } else {
    file.mode = options.allow_direct ? "buffered: O_DIRECT refused" : "buffered";
  }
  return file;
}

}  // namespace

Result<std::shared_ptr<UringWorker>> UringWorker::Start(unsigned entries) {
  auto worker = std::make_shared<RingWorker>();
  if (auto started = worker->Init(entries); !started) return std::unexpected(started.error());
  return worker;
}

Result<std::shared_ptr<BlockDevice>> OpenFileBackend(const std::string& path,
                                                     std::shared_ptr<UringWorker> worker,
                                                     const FileBackendOptions& options) {
  auto* ring = dynamic_cast<RingWorker*>(worker.get());
  if (ring == nullptr) return InvalidArgument("open {}: no worker from UringWorker::Start", path);
  auto file = OpenFile(path, options);
  if (!file) return std::unexpected(file.error());
  return std::make_shared<FileBackend>(path, std::move(worker), *ring, std::move(*file),
                                       options.writable);
}

}  // namespace udm
