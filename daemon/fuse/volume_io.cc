// Volume file I/O as explicit state machines: each FUSE request becomes an
// IoRequest that submits bios in phases and replies from the last completion.
#include "fuse/volume_io.h"

#include <linux/falloc.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <cstring>

#include "fuse/uring_transport.h"
#include "udm/bio.h"

namespace udm::daemon::volfs {
namespace {

constexpr uint64_t kEdgeSlot = BufferPool::kAlign;  // offset of the tail sector in `edges`

enum class Kind : uint8_t { kRead, kWrite, kZero, kDiscard, kFlush };

struct IoRequest {
  fuse_req_t req = nullptr;
  // The reply needs the session; declared before the buffers, so the pool
  // outlives them.
  std::shared_ptr<Session> session;
  std::shared_ptr<VolumeState> volume;
  Kind kind = Kind::kRead;
  uint64_t offset = 0;  // bytes, as asked
  uint64_t length = 0;  // bytes, clipped to the volume
  uint64_t first = 0;   // sector span [first, end) covering the bytes
  uint64_t end = 0;

  PooledBuffer data;   // the whole span (reads and writes), unless `span` is borrowed
  char* span = nullptr;  // the whole span: data's, or a ring entry's payload buffer
  UringEntry* entry = nullptr;  // the ring entry the request came in, if any
  PooledBuffer edges;  // partial head sector at 0, partial tail sector at kEdgeSlot
  RangeLock::Holder lock;
  bool locked = false;

  // The current phase: bios in flight (+1 while submitting), the first
  // error of any phase, and the step after the phase.
  std::atomic<int> pending{0};
  std::atomic<int> error{0};
  void (*next)(IoRequest* r) = nullptr;
  Bio bios[3];
  iovec iov[3];

  uint64_t head_skip() const { return offset & (kSectorSize - 1); }
  uint64_t tail_end() const { return (offset + length) & (kSectorSize - 1); }
  bool head_partial() const { return head_skip() != 0; }
  bool tail_partial() const { return tail_end() != 0; }
  bool partial() const { return Partial(offset, length); }
  static bool Partial(uint64_t offset, uint64_t length) {
    return ((offset | (offset + length)) & (kSectorSize - 1)) != 0;
  }
  // The tail sector is read into its own slot unless the head read covers it.
  bool tail_own_sector() const { return tail_partial() && !(head_partial() && end - first == 1); }
  uint64_t span_bytes() const { return (end - first) << kSectorShift; }
};

IoRequest* NewRequest(const std::shared_ptr<Session>& session,
                      const std::shared_ptr<VolumeState>& volume, fuse_req_t req, Kind kind,
                      uint64_t offset, uint64_t length) {
  auto* r = new IoRequest;
  r->req = req;
  r->session = session;
  r->volume = volume;
  r->kind = kind;
  r->offset = offset;
  r->length = length;
  r->first = offset >> kSectorShift;
  r->end = (offset + length + kSectorSize - 1) >> kSectorShift;
  r->entry = CurrentUringEntry();
  return r;
}

uint64_t VolumeBytes(const VolumeState& v) { return v.device->sectors() << kSectorShift; }

// --- Phases -------------------------------------------------------------
// A phase submits up to three bios and names the step that runs when the
// last of them completes:
//   read:            Read -> ReplyRead
//   write:           [lock] -> (ReadEdges -> MergeEdges) -> WriteSpan -> Finish
//   zero / discard:  [lock] -> (ReadEdges) -> WriteZeroes -> Finish
//   flush:           Flush -> Finish

void EndIo(Bio* bio, int status) {
  auto* r = static_cast<IoRequest*>(bio->private_data);
  if (status != 0) {
    int none = 0;
    r->error.compare_exchange_strong(none, status, std::memory_order_relaxed);
  }
  if (r->pending.fetch_sub(1, std::memory_order_acq_rel) == 1) r->next(r);
}

// Sets up bios[i]. `buf` is the payload of reads and writes.
void PrepareBio(IoRequest* r, int i, Op op, uint64_t sector, uint64_t sectors, char* buf) {
  Bio& b = r->bios[i];
  b = Bio{};
  b.op = op;
  b.sector = sector;
  b.sectors = sectors;
  if (buf != nullptr) {
    r->iov[i] = iovec{buf, static_cast<size_t>(sectors << kSectorShift)};
    b.iov = &r->iov[i];
    b.iov_count = 1;
  }
  b.end_io = &EndIo;
  b.private_data = r;
}

// Submits bios[0..count) and runs `next` once all have completed.
void SubmitPhase(IoRequest* r, int count, void (*next)(IoRequest*)) {
  r->next = next;
  r->pending.store(count + 1, std::memory_order_relaxed);
  for (int i = 0; i < count; ++i) r->volume->device->Submit(&r->bios[i]);
  if (r->pending.fetch_sub(1, std::memory_order_acq_rel) == 1) next(r);
}

// Releases the range lock (starting whoever waited for it), replies, frees.
void Finish(IoRequest* r) {
  if (r->locked) r->volume->range_lock.Release(&r->lock);
  const int error = r->error.load(std::memory_order_relaxed);
  UringReplyScope scope(r->entry);
  if (r->kind == Kind::kWrite && error == 0) {
    fuse_reply_write(r->req, r->length);
  } else {
    fuse_reply_err(r->req, -error);
  }
  delete r;
}

void ReplyRead(IoRequest* r) {
  const int error = r->error.load(std::memory_order_relaxed);
  UringReplyScope scope(r->entry);
  if (error != 0) {
    fuse_reply_err(r->req, -error);
  } else {
    fuse_reply_buf(r->req, r->span + r->head_skip(), r->length);
  }
  delete r;
}

void WriteSpan(IoRequest* r) {
  PrepareBio(r, 0, Op::kWrite, r->first, r->end - r->first, r->span);
  SubmitPhase(r, 1, &Finish);
}

// Reads the partial head and tail sectors into `edges`, then runs `next`.
void ReadEdges(IoRequest* r, void (*next)(IoRequest*)) {
  int n = 0;
  if (r->head_partial()) PrepareBio(r, n++, Op::kRead, r->first, 1, r->edges.data());
  if (r->tail_own_sector()) {
    PrepareBio(r, n++, Op::kRead, r->end - 1, 1, r->edges.data() + kEdgeSlot);
  }
  SubmitPhase(r, n, next);
}

// Completes the span buffer with the old bytes around the new ones.
void MergeEdges(IoRequest* r) {
  if (r->error.load(std::memory_order_relaxed) != 0) return Finish(r);
  char* span = r->span;
  if (r->head_partial()) std::memcpy(span, r->edges.data(), r->head_skip());
  if (r->tail_partial()) {
    const char* tail = r->edges.data() + (r->tail_own_sector() ? kEdgeSlot : 0);
    const uint64_t at = r->head_skip() + r->length;
    std::memcpy(span + at, tail + r->tail_end(), kSectorSize - r->tail_end());
  }
  WriteSpan(r);
}

// Zeroes the partial edge sectors in `edges` and writes them back, next to
// a write-zeroes or discard of the whole sectors in between.
void WriteZeroes(IoRequest* r) {
  if (r->error.load(std::memory_order_relaxed) != 0) return Finish(r);
  int n = 0;
  if (r->head_partial()) {
    const uint64_t stop = std::min(kSectorSize, r->head_skip() + r->length);
    std::memset(r->edges.data() + r->head_skip(), 0, stop - r->head_skip());
    PrepareBio(r, n++, Op::kWrite, r->first, 1, r->edges.data());
  }
  if (r->tail_own_sector()) {
    std::memset(r->edges.data() + kEdgeSlot, 0, r->tail_end());
    PrepareBio(r, n++, Op::kWrite, r->end - 1, 1, r->edges.data() + kEdgeSlot);
  }
  const uint64_t mid_begin = (r->offset + kSectorSize - 1) >> kSectorShift;
  const uint64_t mid_end = (r->offset + r->length) >> kSectorShift;
  if (mid_end > mid_begin) {
    const Op op = r->kind == Kind::kDiscard ? Op::kDiscard : Op::kWriteZeroes;
    PrepareBio(r, n++, op, mid_begin, mid_end - mid_begin, nullptr);
  }
  SubmitPhase(r, n, &Finish);
}

// The first phase of a write-like request, once it holds its range.
void Run(IoRequest* r) {
  if (r->kind == Kind::kWrite) {
    if (r->partial()) return ReadEdges(r, &MergeEdges);
    return WriteSpan(r);
  }
  if (r->partial()) return ReadEdges(r, &WriteZeroes);
  WriteZeroes(r);
}

void Granted(RangeLock::Holder* h) { Run(static_cast<IoRequest*>(h->owner)); }

// Takes the range lock (exclusive for read-modify-write) and runs, now or
// when the conflicting requests have finished.
void LockAndRun(IoRequest* r) {
  if (r->partial()) {
    r->edges = r->session->pool.Get(2 * kEdgeSlot);
    if (!r->edges) {
      UringReplyScope scope(r->entry);
      fuse_reply_err(r->req, ENOMEM);
      delete r;
      return;
    }
  }
  r->lock.begin = r->first;
  r->lock.end = r->end;
  r->lock.exclusive = r->partial();
  r->lock.granted = &Granted;
  r->lock.owner = r;
  r->locked = true;
  if (r->volume->range_lock.Acquire(&r->lock)) Run(r);
}

// The errno to answer a fallocate with without any I/O, or -1 when
// [offset, offset + *length) must be zeroed or discarded; clips *length to
// the volume's `bytes`.
int CheckFallocate(int mode, uint64_t offset, uint64_t* length, uint64_t bytes) {
  constexpr int kPunch = FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE;
  constexpr int kZeroKeep = FALLOC_FL_ZERO_RANGE | FALLOC_FL_KEEP_SIZE;
  const bool past_end = offset + *length > bytes;
  switch (mode) {
    case 0:  // allocate: every sector of a volume exists already
      return past_end ? ENOSPC : 0;
    case FALLOC_FL_KEEP_SIZE:
      return 0;
    case FALLOC_FL_ZERO_RANGE:  // would grow the file past the end
      if (past_end) return ENOSPC;
      break;
    case kZeroKeep:
    case kPunch:
      break;
    default:
      return EOPNOTSUPP;
  }
  if (offset >= bytes || *length == 0) return 0;
  *length = std::min(*length, bytes - offset);
  return -1;
}

// A request with a pooled buffer covering its whole sector span, or
// nullptr after answering ENOMEM.
IoRequest* NewBufferedRequest(const std::shared_ptr<Session>& session,
                              const std::shared_ptr<VolumeState>& volume, fuse_req_t req, Kind kind,
                              uint64_t offset, uint64_t length) {
  IoRequest* r = NewRequest(session, volume, req, kind, offset, length);
  r->data = session->pool.Get(r->span_bytes());
  if (!r->data) {
    fuse_reply_err(req, ENOMEM);
    delete r;
    return nullptr;
  }
  r->span = r->data.data();
  return r;
}

}  // namespace

void StartRead(const std::shared_ptr<Session>& session, const std::shared_ptr<VolumeState>& volume,
               fuse_req_t req, uint64_t offset, size_t size) {
  const uint64_t bytes = VolumeBytes(*volume);
  if (size == 0 || offset >= bytes) {
    fuse_reply_buf(req, nullptr, 0);
    return;
  }
  const uint64_t length = std::min<uint64_t>(size, bytes - offset);
  size_t capacity = 0;
  char* ring_buf = UringPayload(&capacity);
  IoRequest* r;
  if (ring_buf != nullptr && !IoRequest::Partial(offset, length) && length <= capacity) {
    // Read straight into the ring entry's payload buffer: the reply is
    // then already where the kernel takes it from.
    r = NewRequest(session, volume, req, Kind::kRead, offset, length);
    r->span = ring_buf;
  } else {
    r = NewBufferedRequest(session, volume, req, Kind::kRead, offset, length);
    if (r == nullptr) return;
  }
  PrepareBio(r, 0, Op::kRead, r->first, r->end - r->first, r->span);
  SubmitPhase(r, 1, &ReplyRead);
}

void StartWrite(const std::shared_ptr<Session>& session, const std::shared_ptr<VolumeState>& volume,
                fuse_req_t req, const char* data, PooledBuffer owned, size_t size,
                uint64_t offset) {
  if (volume->read_only) {
    fuse_reply_err(req, EROFS);
    return;
  }
  const uint64_t bytes = VolumeBytes(*volume);
  if (size == 0) {
    fuse_reply_write(req, 0);
    return;
  }
  if (offset >= bytes) {
    fuse_reply_err(req, ENOSPC);
    return;
  }
  const uint64_t length = std::min<uint64_t>(size, bytes - offset);
  size_t capacity = 0;
  const char* ring_buf = UringPayload(&capacity);
  if (!IoRequest::Partial(offset, length) && (owned || (ring_buf != nullptr && data == ring_buf))) {
    // The payload is the span: no copy. A ring entry's buffer stays ours
    // until the reply, which comes after the write.
    IoRequest* r = NewRequest(session, volume, req, Kind::kWrite, offset, length);
    if (owned) {
      r->data = std::move(owned);
      r->span = r->data.data();
    } else {
      r->span = const_cast<char*>(data);
    }
    return LockAndRun(r);
  }
  IoRequest* r = NewBufferedRequest(session, volume, req, Kind::kWrite, offset, length);
  if (r == nullptr) return;
  std::memcpy(r->span + r->head_skip(), data, r->length);
  LockAndRun(r);
}

void StartFlush(const std::shared_ptr<Session>& session, const std::shared_ptr<VolumeState>& volume,
                fuse_req_t req) {
  IoRequest* r = NewRequest(session, volume, req, Kind::kFlush, 0, 0);
  PrepareBio(r, 0, Op::kFlush, 0, 0, nullptr);
  SubmitPhase(r, 1, &Finish);
}

void StartFallocate(const std::shared_ptr<Session>& session,
                    const std::shared_ptr<VolumeState>& volume, fuse_req_t req, int mode,
                    uint64_t offset, uint64_t length) {
  const int answer = volume->read_only ? EROFS : CheckFallocate(mode, offset, &length,
                                                                VolumeBytes(*volume));
  if (answer >= 0) {
    fuse_reply_err(req, answer);
    return;
  }
  const Kind kind = (mode & FALLOC_FL_PUNCH_HOLE) != 0 ? Kind::kDiscard : Kind::kZero;
  LockAndRun(NewRequest(session, volume, req, kind, offset, length));
}

}  // namespace udm::daemon::volfs
