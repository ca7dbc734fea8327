// FUSE over io_uring: the queues, their threads, and the reply path.
// The ABI below is the kernel's (include/uapi/linux/fuse.h, protocol 7.42);
// Debian 12's headers predate it.
#include "fuse/uring_transport.h"

#include <liburing.h>
#include <linux/fuse.h>
#include <sched.h>
#include <sys/eventfd.h>
#include <sys/mman.h>
#include <poll.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <cstring>
#include <fstream>
#include <future>
#include <mutex>
#include <thread>
#include <vector>

#include <fmt/core.h>

#include "udm/check.h"
#include "udm/thread_ring.h"

namespace udm::daemon::volfs {
namespace abi {

constexpr uint32_t kCmdRegister = 1;
constexpr uint32_t kCmdCommitAndFetch = 2;

struct EntInOut {
  uint64_t flags;
  uint64_t commit_id;
  uint32_t payload_sz;
  uint32_t padding;
  uint64_t reserved;
};

struct ReqHeader {
  char in_out[128];  // fuse_in_header in, fuse_out_header out
  char op_in[128];   // the request's first argument (its per-op header)
  EntInOut ent;
};

struct CmdReq {
  uint64_t flags;
  uint64_t commit_id;
  uint16_t qid;
  uint8_t padding[6];
};

}  // namespace abi

namespace {

constexpr size_t kPrefix = 4096;         // room for the request headers before the payload
constexpr unsigned kRingEntries = 256;   // SQEs (128 bytes each); the CQ has twice as many
constexpr unsigned kMaxFileOps = 192;    // file requests on a queue's ring at once
constexpr uint64_t kWakeTag = 1;         // user_data of the eventfd poll (odd: ours)

class Queue;
thread_local UringEntry* t_entry = nullptr;
thread_local Queue* t_queue = nullptr;

}  // namespace

struct UringEntry {
  Queue* queue = nullptr;
  abi::ReqHeader* hdr = nullptr;
  char* region = nullptr;   // mmap: kPrefix bytes, then the payload
  char* payload = nullptr;
  size_t payload_size = 0;
  iovec iov[2]{};
  uint64_t unique = 0;  // of the request being answered
  bool busy = false;    // a request is with us, its commit not yet prepared
};

namespace {

class Queue : public std::enable_shared_from_this<Queue> {
 public:
  Queue(fuse_session* se, int fd, unsigned qid, unsigned depth, size_t max_payload)
      : se_(se), fd_(fd), qid_(qid), depth_(depth), max_payload_(max_payload) {}
  ~Queue();

  // Starts the thread; returns once every entry is registered (or failed).
  Status Start();
  void Stop();
  // Any thread: the entry's reply is in its buffers; send it.
  void Commit(UringEntry* e);

 private:
  Status Setup(const cpu_set_t& allowed);
  void Run(std::promise<Status>* started);
  io_uring_sqe* GetSqe();
  void PrepCmd(UringEntry* e, uint32_t op);
  void OnEntryCqe(UringEntry* e, int res);
  void Handle(UringEntry* e);
  void TakeRemoteCommits();
  void ArmWake();

  fuse_session* const se_;
  const int fd_;  // our own dup of the session's /dev/fuse descriptor
  const unsigned qid_;
  const unsigned depth_;
  const size_t max_payload_;

  io_uring ring_{};
  bool ring_ready_ = false;
  int wake_fd_ = -1;
  std::vector<UringEntry> entries_;
  unsigned busy_ = 0;  // thread only
  unsigned live_ = 0;  // entries the kernel still holds or gave us
  bool wake_armed_ = false;
  std::atomic<bool> stop_{false};
  // Set while a request is in libfuse's dispatch, which uses the session's
  // userdata (FsState): Stop() waits for it to clear, so that nothing is
  // dispatched once Stop() has returned and the FsState may go.
  std::atomic<bool> dispatching_{false};

  std::mutex mu_;
  std::vector<UringEntry*> remote_;  // guarded by mu_: commits from other threads
};

Queue::~Queue() {
  if (ring_ready_) io_uring_queue_exit(&ring_);
  for (UringEntry& e : entries_) {
    if (e.region != nullptr) munmap(e.region, kPrefix + e.payload_size);
    std::free(e.hdr);
  }
  if (wake_fd_ >= 0) close(wake_fd_);
  close(fd_);
}

Status Queue::Setup(const cpu_set_t& allowed) {
  wake_fd_ = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
  if (wake_fd_ < 0) return SysError(errno, "eventfd");
  // Plain SQE128 (the FUSE commands need 128-byte SQEs). Measured here,
  // COOP_TASKRUN and DEFER_TASKRUN both cost 15-20 us at QD1: completions
  // then wait for this thread's next pass instead of waking it.
  const int r = io_uring_queue_init(kRingEntries, &ring_, IORING_SETUP_SQE128);
  if (r < 0) return SysError(-r, "io_uring_queue_init (128-byte SQEs)");
  ring_ready_ = true;
  // What blocks (every fdatasync) goes to io_uring's worker threads. Keep
  // them off this queue's CPU, which the requester shares: with a worker
  // there as well, the scheduler moves a QD1 fsync caller to the other CPU
  // on nearly every reply and wakes it there (README, FUSE benchmark;
  // bench/results/fuse-bench-iowq-ab.json). Best effort: with one CPU, or
  // if the kernel refuses, they run anywhere; a CPU brought online later
  // joins every worker's set.
  cpu_set_t workers = allowed;
  CPU_CLR(qid_, &workers);
  if (CPU_COUNT(&workers) > 0) io_uring_register_iowq_aff(&ring_, sizeof(workers), &workers);
  entries_.resize(depth_);
  for (UringEntry& e : entries_) {
    e.queue = this;
    // aligned_alloc wants the size to be a multiple of the alignment.
    constexpr size_t kHeaderAlloc = (sizeof(abi::ReqHeader) + 63) & ~size_t{63};
    e.hdr = static_cast<abi::ReqHeader*>(std::aligned_alloc(64, kHeaderAlloc));
    void* m = mmap(nullptr, kPrefix + max_payload_, PROT_READ | PROT_WRITE,
                   MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
    if (e.hdr == nullptr || m == MAP_FAILED) return SysError(ENOMEM, "FUSE ring buffers");
    e.region = static_cast<char*>(m);
    e.payload = e.region + kPrefix;
    e.payload_size = max_payload_;
    e.iov[0] = iovec{e.hdr, sizeof(abi::ReqHeader)};
    e.iov[1] = iovec{e.payload, max_payload_};
  }
  return {};
}

io_uring_sqe* Queue::GetSqe() {
  io_uring_sqe* sqe = io_uring_get_sqe(&ring_);
  while (sqe == nullptr) {  // full: hand what is there to the kernel
    const int r = io_uring_submit(&ring_);
    UDM_CHECK(r >= 0 || r == -EINTR || r == -EAGAIN || r == -EBUSY);
    sqe = io_uring_get_sqe(&ring_);
  }
  return sqe;
}

void Queue::PrepCmd(UringEntry* e, uint32_t op) {
  io_uring_sqe* sqe = GetSqe();
  std::memset(sqe, 0, 2 * sizeof(io_uring_sqe));  // an SQE128 slot
  sqe->opcode = IORING_OP_URING_CMD;
  sqe->fd = fd_;
  sqe->cmd_op = op;
  if (op == abi::kCmdRegister) {
    sqe->addr = reinterpret_cast<uintptr_t>(e->iov);
    sqe->len = 2;
  }
  auto* req = reinterpret_cast<abi::CmdReq*>(sqe->cmd);
  req->qid = static_cast<uint16_t>(qid_);
  req->commit_id = op == abi::kCmdCommitAndFetch ? e->unique : 0;
  io_uring_sqe_set_data(sqe, reinterpret_cast<void*>(reinterpret_cast<uintptr_t>(e) | 1));
}

void Queue::ArmWake() {
  io_uring_sqe* sqe = GetSqe();
  std::memset(sqe, 0, 2 * sizeof(io_uring_sqe));
  io_uring_prep_poll_multishot(sqe, wake_fd_, POLLIN);
  io_uring_sqe_set_data(sqe, reinterpret_cast<void*>(kWakeTag));
  wake_armed_ = true;
}

Status Queue::Start() {
  // Shared: the thread may still be inside set_value when we return.
  auto started = std::make_shared<std::promise<Status>>();
  auto result = started->get_future();
  std::thread([self = shared_from_this(), started] { self->Run(started.get()); }).detach();
  return result.get();
}

void Queue::Stop() {
  stop_.store(true);
  while (dispatching_.load()) std::this_thread::yield();
  const uint64_t one = 1;
  [[maybe_unused]] ssize_t n = write(wake_fd_, &one, sizeof(one));
}

void Queue::Commit(UringEntry* e) {
  if (t_queue == this) {
    e->busy = false;
    --busy_;
    PrepCmd(e, abi::kCmdCommitAndFetch);
    return;
  }
  {
    std::lock_guard g(mu_);
    remote_.push_back(e);
  }
  const uint64_t one = 1;
  [[maybe_unused]] ssize_t n = write(wake_fd_, &one, sizeof(one));
}

void Queue::TakeRemoteCommits() {
  uint64_t count;
  [[maybe_unused]] ssize_t n = read(wake_fd_, &count, sizeof(count));
  std::vector<UringEntry*> commits;
  {
    std::lock_guard g(mu_);
    commits.swap(remote_);
  }
  for (UringEntry* e : commits) Commit(e);
}

void Queue::Run(std::promise<Status>* started) {
  // Requests come to the queue of the CPU their sender runs on: serve them
  // from that CPU (best effort; a failure only costs locality).
  cpu_set_t allowed;
  if (sched_getaffinity(0, sizeof(allowed), &allowed) != 0) CPU_ZERO(&allowed);
  cpu_set_t set;
  CPU_ZERO(&set);
  CPU_SET(qid_, &set);
  sched_setaffinity(0, sizeof(set), &set);

  if (Status st = Setup(allowed); !st) {
    started->set_value(st);
    return;
  }
  t_queue = this;
  ThreadRing files(&ring_, kMaxFileOps);
  files.Bind();
  ArmWake();
  for (UringEntry& e : entries_) PrepCmd(&e, abi::kCmdRegister);
  live_ = depth_;
  const int r = io_uring_submit(&ring_);
  // A registration fails at once (with a CQE) or stays queued without one.
  io_uring_cqe* cqe = nullptr;
  int failed = 0;
  if (r >= 0 && io_uring_peek_cqe(&ring_, &cqe) == 0 && cqe->res < 0 &&
      (io_uring_cqe_get_data64(cqe) & 1) && io_uring_cqe_get_data64(cqe) != kWakeTag) {
    failed = -cqe->res;
  }
  if (r < 0 || failed != 0) {
    const int err = r < 0 ? -r : failed;
    started->set_value(Fail(ErrorCode::kIo, err, "FUSE io_uring queue {}: register: {}", qid_,
                            std::strerror(err)));
    files.Unbind();
    t_queue = nullptr;
    return;  // the ring's exit cancels what was registered
  }
  started->set_value(Status{});

  for (;;) {
    files.Flush();
    if (busy_ == 0 && files.inflight() == 0 && (stop_.load() || live_ == 0)) break;
    const int w = io_uring_submit_and_wait(&ring_, 1);
    UDM_CHECK(w >= 0 || w == -EINTR || w == -EAGAIN || w == -EBUSY);
    unsigned head;
    unsigned seen = 0;
    io_uring_for_each_cqe(&ring_, head, cqe) {
      ++seen;
      const uint64_t ud = io_uring_cqe_get_data64(cqe);
      const int res = cqe->res;
      if (ThreadRing::OwnsCqe(ud)) {
        files.Complete(ud, res);
      } else if (ud == kWakeTag) {
        if ((cqe->flags & IORING_CQE_F_MORE) == 0) wake_armed_ = false;
        TakeRemoteCommits();
      } else {
        OnEntryCqe(reinterpret_cast<UringEntry*>(ud & ~uint64_t{1}), res);
      }
    }
    io_uring_cq_advance(&ring_, seen);
    if (!wake_armed_) ArmWake();
  }
  files.Unbind();
  t_queue = nullptr;
}

void Queue::OnEntryCqe(UringEntry* e, int res) {
  if (res == 0) return Handle(e);
  // The connection is gone (-ENOTCONN, -ECANCELED) or the commit was
  // refused; the kernel no longer holds this entry.
  if (res != -ENOTCONN && res != -ECANCELED && !stop_.load()) {
    fmt::print(stderr, "udmd: fuse: io_uring queue {}: entry dropped: {}\n", qid_,
               std::strerror(-res));
  }
  --live_;
}

void Queue::Handle(UringEntry* e) {
  e->busy = true;
  ++busy_;
  fuse_in_header h;
  std::memcpy(&h, e->hdr->in_out, sizeof(h));
  const uint64_t payload = e->hdr->ent.payload_sz;
  e->unique = h.unique;
  const uint64_t headers = uint64_t{h.len} - payload;
  const bool malformed = h.len < sizeof(h) + payload ||
                         headers - sizeof(h) > sizeof(e->hdr->op_in) || payload > e->payload_size;
  // Seen by Stop() or sees its flag (both sequentially consistent).
  dispatching_.store(true);
  if (malformed || stop_.load()) {
    dispatching_.store(false);
    if (malformed) {
      fmt::print(stderr, "udmd: fuse: io_uring queue {}: malformed request (opcode {})\n", qid_,
                 h.opcode);
    }
    fuse_out_header out{sizeof(fuse_out_header), malformed ? -EIO : -ENOTCONN, h.unique};
    iovec iov{&out, sizeof(out)};
    UringReplyScope scope(e);
    ssize_t n;
    SendReplyThroughRing(&iov, 1, &n);
    return;
  }
  // libfuse wants the request as /dev/fuse delivers it: header, per-op
  // header and payload in one piece. Put the headers right before the
  // payload, which stays where the kernel wrote it (page-aligned).
  char* start = e->payload - headers;
  std::memcpy(start, &h, sizeof(h));
  std::memcpy(start + sizeof(h), e->hdr->op_in, headers - sizeof(h));
  fuse_buf buf{};
  buf.size = h.len;
  buf.mem = start;
  buf.fd = -1;
  UringReplyScope scope(e);
  fuse_session_process_buf(se_, &buf);
  dispatching_.store(false);
}

// The number of possible CPUs: the kernel makes one queue for each.
unsigned PossibleCpus() {
  std::ifstream in("/sys/devices/system/cpu/possible");
  std::string text;
  std::getline(in, text);
  unsigned count = 0;
  size_t pos = 0;
  while (pos < text.size()) {
    const size_t comma = text.find(',', pos);
    const std::string part = text.substr(pos, comma == std::string::npos ? std::string::npos
                                                                          : comma - pos);
    const size_t dash = part.find('-');
    if (dash == std::string::npos) {
      ++count;
    } else {
      count += static_cast<unsigned>(std::stoul(part.substr(dash + 1)) -
                                     std::stoul(part.substr(0, dash)) + 1);
    }
    if (comma == std::string::npos) break;
    pos = comma + 1;
  }
  return count == 0 ? 1 : count;
}

}  // namespace

UringEntry* CurrentUringEntry() { return t_entry; }

UringReplyScope::UringReplyScope(UringEntry* e) : saved_(t_entry) { t_entry = e; }
UringReplyScope::~UringReplyScope() { t_entry = saved_; }

char* UringPayload(size_t* capacity) {
  UringEntry* e = t_entry;
  if (e == nullptr || !e->busy) return nullptr;
  *capacity = e->payload_size;
  return e->payload;
}

bool SendReplyThroughRing(const iovec* iov, int count, ssize_t* written) {
  UringEntry* e = t_entry;
  if (e == nullptr || !e->busy || count < 1 || iov[0].iov_len != sizeof(fuse_out_header)) {
    return false;
  }
  fuse_out_header out;
  std::memcpy(&out, iov[0].iov_base, sizeof(out));
  if (out.unique != e->unique) return false;  // not this entry's request (a notification)
  size_t total = 0;
  for (int i = 1; i < count; ++i) total += iov[i].iov_len;
  if (total > e->payload_size) {  // cannot happen within max_write; answer, never hang
    out.error = -EIO;
    total = 0;
    count = 1;
  }
  size_t at = 0;
  for (int i = 1; i < count; ++i) {
    // A read that landed in the payload buffer is already in place.
    if (iov[i].iov_base != e->payload + at) {
      std::memmove(e->payload + at, iov[i].iov_base, iov[i].iov_len);
    }
    at += iov[i].iov_len;
  }
  std::memcpy(e->hdr->in_out, &out, sizeof(out));
  e->hdr->ent.payload_sz = static_cast<uint32_t>(total);
  *written = static_cast<ssize_t>(sizeof(out) + total);
  e->queue->Commit(e);
  return true;
}

struct UringTransport::Impl {
  std::vector<std::shared_ptr<Queue>> queues;
};

UringTransport::UringTransport(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}

UringTransport::~UringTransport() { Stop(); }

Result<std::shared_ptr<UringTransport>> UringTransport::Start(fuse_session* se, int fuse_fd,
                                                              unsigned depth,
                                                              size_t max_payload) {
  auto impl = std::make_unique<Impl>();
  const unsigned n = PossibleCpus();
  for (unsigned qid = 0; qid < n; ++qid) {
    const int fd = dup(fuse_fd);
    if (fd < 0) return SysError(errno, "dup /dev/fuse");
    auto q = std::make_shared<Queue>(se, fd, qid, depth, max_payload);
    if (Status st = q->Start(); !st) {
      for (auto& started : impl->queues) started->Stop();
      return std::unexpected(st.error());
    }
    impl->queues.push_back(std::move(q));
  }
  return std::shared_ptr<UringTransport>(new UringTransport(std::move(impl)));
}

void UringTransport::Stop() {
  for (auto& q : impl_->queues) q->Stop();
  impl_->queues.clear();
}

unsigned UringTransport::queues() const { return static_cast<unsigned>(impl_->queues.size()); }

}  // namespace udm::daemon::volfs
