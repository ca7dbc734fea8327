// The engine's I/O path: admission through the gate, splitting a request
// into per-target clones, phases (pre-flush, payload, post-flush), clone
// completion, requeue into the single deferred queue, and completion.
#include <chrono>
#include <cstring>

#include <fmt/format.h>

#include "dm_io.h"
#include "udm/check.h"
#include "udm/mapped_device.h"

namespace udm {

using detail::CloneIo;
using detail::DmIo;
using detail::IoKind;
using detail::IoPhase;

uint64_t detail::NowNs() {
  return static_cast<uint64_t>(std::chrono::duration_cast<std::chrono::nanoseconds>(
                                   std::chrono::steady_clock::now().time_since_epoch())
                                   .count());
}

namespace {

constexpr uint64_t kSeqShift = 32;
constexpr uint64_t kSeqMask = 0x7fffffffull;

// The gate word after admitting one more request.
uint64_t Admitted(uint64_t s) {
  const uint64_t seq = ((s >> kSeqShift) + 1) & kSeqMask;
  return (s & (1ull << 63)) | (seq << kSeqShift) | ((s & 0xffffffffull) + 1);
}

uint32_t SeqOf(uint64_t s) { return static_cast<uint32_t>((s >> kSeqShift) & kSeqMask); }

// Serial-number comparison on 31-bit sequence numbers.
bool SeqBefore(uint32_t a, uint32_t b) { return ((b - a) & kSeqMask) - 1 < (kSeqMask >> 1); }

}  // namespace

// The end_io of every clone: the target sees it first (dm's clone_endio).
void CloneEndIo(Bio* b, int status) {
  CloneIo* c = CloneIo::From(b);
  const EndIoResult r = c->target->EndIo(b, &status);
  if (r == EndIoResult::kIncomplete) return;
  if (status != 0 && r == EndIoResult::kDone) {
    c->io->md->NoteError(*b, b->device != nullptr
                                 ? b->device->name()
                                 : fmt::format("the target at sector {}", c->target->begin()),
                         status);
  }
  MappedDevice::FinishClone(c->io, status, r == EndIoResult::kRequeue);
}

// Finishes one clone of `io`; the last one ends the phase.
void MappedDevice::FinishClone(DmIo* io, int status, bool requeue) {
  if (requeue) {
    io->requeue.store(true, std::memory_order_relaxed);
  } else if (status != 0) {
    int none = 0;
    io->status.compare_exchange_strong(none, status, std::memory_order_relaxed);
  }
  if (io->outstanding.fetch_sub(1, std::memory_order_acq_rel) == 1) {
    io->md->PhaseDoneFromClone(io);
  }
}

void MappedDevice::IssueClone(CloneIo* c) {
  switch (c->target->Map(&c->bio)) {
    case MapResult::kRemapped:
      UDM_CHECK(c->bio.device != nullptr);
      c->bio.device->Submit(&c->bio);
      return;
    case MapResult::kSubmitted:
      return;
    case MapResult::kRequeue:
      FinishClone(c->io, 0, true);
      return;
    case MapResult::kKill:
      c->io->md->NoteError(fmt::format("{} at sector {}: failed by the target at sector {}",
                                       OpName(c->bio.op), c->bio.sector, c->target->begin()));
      FinishClone(c->io, -EIO, false);
      return;
  }
}

void EndClone(Bio* clone, int status) { clone->end_io(clone, status); }

void MappedDevice::Submit(Bio* bio) {
  UDM_CHECK(bio->end_io != nullptr);
  const bool flush_like = bio->op == Op::kFlush || (bio->flags & kPreflush);
  if (bio->op == Op::kFlush ? bio->sectors != 0
                            : (bio->has_data() && bio->sectors > 0 && bio->iov == nullptr)) {
    bio->Complete(-EINVAL);
    return;
  }
  if (bio->end_sector() < bio->sector) {  // wraps past 2^64 sectors: beyond any end
    bio->Complete(-EIO);
    return;
  }
  if (bio->is_write_like() && options_.read_only) {
    bio->Complete(-EROFS);
    return;
  }
  if (bio->sectors == 0 && !flush_like && !(bio->flags & kBarrier)) {
    bio->Complete(0);
    return;
  }
  auto* io = new DmIo();
  io->md = this;
  io->orig = bio;
  const bool ordered = (bio->flags & kBarrier) ||
                       (options_.barrier_mode == BarrierMode::kOrdered && flush_like);
  if (flush_like || ordered) {
    io->flush_like = true;
    io->start_ns = detail::NowNs();
    io->barrier_id = next_barrier_id_.fetch_add(1, std::memory_order_relaxed);
    std::lock_guard<std::mutex> g(inflight_mu_);
    io->inflight_next = inflight_head_;
    if (inflight_head_ != nullptr) inflight_head_->inflight_prev = io;
    inflight_head_ = io;
  }
  if (ordered) {
    io->kind = IoKind::kBarrier;
    SubmitSlow(io);
    return;
  }
  if (TryAdmitFast(io)) {
    StartIo(io);
    return;
  }
  SubmitSlow(io);
}

bool MappedDevice::TryAdmitFast(DmIo* io) {
  uint64_t s = gate_.load(std::memory_order_relaxed);
  while ((s & kBlocked) == 0) {
    if (gate_.compare_exchange_weak(s, Admitted(s), std::memory_order_acq_rel,
                                    std::memory_order_relaxed)) {
      io->seq = SeqOf(s);
      return true;
    }
  }
  return false;
}

void MappedDevice::Admit(DmIo* io) {
  uint64_t s = gate_.load(std::memory_order_relaxed);
  while (!gate_.compare_exchange_weak(s, Admitted(s), std::memory_order_acq_rel,
                                      std::memory_order_relaxed)) {
  }
  io->seq = SeqOf(s);
}

void MappedDevice::DecPending() {
  uint64_t s = gate_.load(std::memory_order_relaxed);
  while ((s & kBlocked) == 0) {  // nobody waits for the count: lock-free
    UDM_CHECK((s & kCountMask) != 0);
    if (gate_.compare_exchange_weak(s, s - 1, std::memory_order_acq_rel, std::memory_order_relaxed)) {
      return;
    }
  }
  // Blocked: a barrier or a suspend may wait for zero. Decrement under mu_
  // so that nobody can see zero (and, say, destroy the device) before the
  // wakeup is done.
  std::lock_guard<std::mutex> g(mu_);
  const uint64_t prev = gate_.fetch_sub(1, std::memory_order_acq_rel);
  UDM_CHECK((prev & kCountMask) != 0);
  if ((prev & kCountMask) == 1) WakeLocked();
}

void MappedDevice::SubmitSlow(DmIo* io) {
  std::unique_lock<std::mutex> l(mu_);
  if (io->kind == IoKind::kNormal && (gate_.load(std::memory_order_acquire) & kBlocked) == 0) {
    Admit(io);  // the gate opened while we waited for the lock
    l.unlock();
    StartIo(io);
    return;
  }
  gate_.fetch_or(kBlocked, std::memory_order_acq_rel);
  // An ordered barrier on an idle device: nothing earlier is in flight or
  // queued (checked after the gate closed, so nothing new slips in ahead),
  // so rule 1's first wait is already over. Start it here, as the worker
  // would, without waking the worker; its flushes are issued
  // asynchronously, so the submitter still does not wait.
  if (io->kind == IoKind::kBarrier && barrier_ == nullptr && !barrier_finishing_ &&
      state_ == SuspendState::kActive && deferred_.empty() && pending() == 0) {
    barrier_ = io;
    StartBarrier(l);
    // Failed at once (still locked): open the gate again. Otherwise the
    // completion of its last flush finishes it, maybe already done.
    if (l.owns_lock()) AfterBarrierLocked();
    return;
  }
  deferred_.push_back(io);
  deferred_depth_.fetch_add(1, std::memory_order_relaxed);
  WakeLocked();
}

void MappedDevice::StartIo(DmIo* io) {
  io->table = live_.load(std::memory_order_acquire);
  io->status.store(0, std::memory_order_relaxed);
  if (io->table == nullptr || io->orig->end_sector() > io->table->sectors()) {
    const Bio& b = *io->orig;
    NoteError(io->table == nullptr
                  ? fmt::format("{} at sector {}: no live table", OpName(b.op), b.sector)
                  : fmt::format("{} at sector {}: beyond the end ({} sectors)", OpName(b.op),
                                b.sector, io->table->sectors()));
    Finish(io, -EIO);
    return;
  }
  io->phase = (io->orig->flags & kPreflush) || io->orig->op == Op::kFlush ? IoPhase::kPreflush
                                                                           : IoPhase::kPayload;
  IssuePhase(io);
}

void MappedDevice::IssuePhase(DmIo* io) {
  if (io->flush_like) {
    SetReportedPhase(io, io->phase == IoPhase::kPreflush   ? BarrierPhase::kPreflush
                         : io->phase == IoPhase::kPayload ? BarrierPhase::kPayload
                                                          : BarrierPhase::kPostflush);
  }
  io->outstanding.store(1, std::memory_order_relaxed);  // bias while issuing
  if (io->phase == IoPhase::kPayload) {
    IssuePayloadClones(io);
  } else {
    IssueFlushClones(io);
  }
  if (io->outstanding.fetch_sub(1, std::memory_order_acq_rel) == 1) PhaseDoneFromClone(io);
}

void MappedDevice::IssueFlushClones(DmIo* io) {
  const Table& t = *io->table;
  uint32_t n = 0;
  for (size_t i = 0; i < t.num_targets(); ++i) n += t.entry(i).target->num_flush_bios();
  CloneIo* clones = io->Clones(n);
  uint32_t k = 0;
  for (size_t i = 0; i < t.num_targets(); ++i) {
    Target* target = t.entry(i).target.get();
    for (uint32_t nr = 0; nr < target->num_flush_bios(); ++nr) {
      CloneIo* c = &clones[k++];
      c->bio = Bio{};
      c->bio.op = Op::kFlush;
      c->bio.sector = target->begin();
      c->bio.target_bio_nr = nr;
      c->bio.end_io = CloneEndIo;
      c->io = io;
      c->target = target;
      io->outstanding.fetch_add(1, std::memory_order_relaxed);
      IssueClone(c);
    }
  }
}

namespace {

// The end of the piece of a request that starts at `sector` inside
// `target`: the target's end or its next max_io_len boundary.
uint64_t PieceEnd(const Target& target, uint64_t sector, uint64_t end) {
  uint64_t limit = target.begin() + target.length();
  if (const uint64_t max = target.max_io_len(); max != 0) {
    const uint64_t boundary = target.begin() + ((sector - target.begin()) / max + 1) * max;
    limit = std::min(limit, boundary);
  }
  return std::min(limit, end);
}

}  // namespace

void MappedDevice::IssuePayloadClones(DmIo* io) {
  const Table& t = *io->table;
  const Bio& orig = *io->orig;
  uint32_t strip = kPreflush | kBarrier;
  if (io->kind == IoKind::kBarrier) strip |= kFua;  // the post-flush makes it durable
  const uint64_t end = orig.end_sector();

  uint32_t n = 0;
  for (uint64_t s = orig.sector; s < end; ++n) {
    s = PieceEnd(*t.entry(t.FindTarget(s)).target, s, end);
  }
  CloneIo* clones = io->Clones(n);
  uint64_t s = orig.sector;
  for (uint32_t k = 0; k < n; ++k) {
    Target* target = t.entry(t.FindTarget(s)).target.get();
    const uint64_t piece_end = PieceEnd(*target, s, end);
    CloneIo* c = &clones[k];
    c->bio = Bio{};
    c->bio.op = orig.op;
    c->bio.flags = orig.flags & ~strip;
    c->bio.sector = s;
    c->bio.sectors = piece_end - s;
    if (orig.has_data()) {
      c->bio.iov = orig.iov;
      c->bio.iov_count = orig.iov_count;
      c->bio.iov_offset = orig.iov_offset + ((s - orig.sector) << kSectorShift);
    }
    c->bio.end_io = CloneEndIo;
    c->io = io;
    c->target = target;
    io->outstanding.fetch_add(1, std::memory_order_relaxed);
    s = piece_end;
    IssueClone(c);
  }
}

void MappedDevice::PhaseDoneFromClone(DmIo* io) {
  switch (io->kind) {
    case IoKind::kBarrier: {
      std::unique_lock<std::mutex> l(mu_);
      const bool last = io->status.load(std::memory_order_relaxed) != 0 ||
                        io->phase == IoPhase::kPostflush ||
                        (io->phase == IoPhase::kPreflush && !io->has_payload());
      if (last && !io->requeue.load(std::memory_order_relaxed)) {
        FinishBarrierHere(io, l);
        return;
      }
      barrier_phase_done_ = true;  // the worker issues the next phase
      WakeLocked();
      return;
    }
    case IoKind::kInternalFlush:
      SignalFlushWaiter(io);
      return;
    case IoKind::kNormal:
      break;
  }
  if (io->phase == IoPhase::kPreflush && io->has_payload() &&
      !io->requeue.load(std::memory_order_relaxed) &&
      io->status.load(std::memory_order_relaxed) == 0) {
    io->phase = IoPhase::kPayload;
    IssuePhase(io);
    return;
  }
  if (io->requeue.load(std::memory_order_relaxed)) {
    Requeue(io);
    return;
  }
  Finish(io, io->status.load(std::memory_order_relaxed));
}

void MappedDevice::Finish(DmIo* io, int status) {
  CompleteOriginal(io, status);
  DecPending();
}

void MappedDevice::Requeue(DmIo* io) {
  io->requeue.store(false, std::memory_order_relaxed);
  io->status.store(0, std::memory_order_relaxed);
  io->phase = IoPhase::kNone;
  io->table = nullptr;
  counters_.Add(IoCounters::kRequeues, 1);
  if (io->flush_like) SetReportedPhase(io, BarrierPhase::kQueued);
  {
    std::lock_guard<std::mutex> g(mu_);
    // Requeued requests were admitted before anything that is queued, so
    // they go in front, among themselves in admission order.
    auto pos = deferred_.begin();
    for (size_t i = 0; i < requeued_prefix_ && !SeqBefore(io->seq, (*pos)->seq); ++i) ++pos;
    deferred_.insert(pos, io);
    ++requeued_prefix_;
    deferred_depth_.fetch_add(1, std::memory_order_relaxed);
    gate_.fetch_or(kBlocked, std::memory_order_acq_rel);
    WakeLocked();
  }
  DecPending();
}

void MappedDevice::CompleteOriginal(DmIo* io, int status) {
  Bio* orig = io->orig;
  if (status != 0) counters_.Add(IoCounters::kErrors, 1);
  if (status == 0) {
    switch (orig->op) {
      case Op::kRead:
        counters_.Add(IoCounters::kReads, 1);
        counters_.Add(IoCounters::kReadBytes, orig->bytes());
        break;
      case Op::kWrite:
        counters_.Add(IoCounters::kWrites, 1);
        counters_.Add(IoCounters::kWriteBytes, orig->bytes());
        break;
      case Op::kDiscard: counters_.Add(IoCounters::kDiscards, 1); break;
      case Op::kWriteZeroes: counters_.Add(IoCounters::kWriteZeroes, 1); break;
      case Op::kFlush: break;
    }
  }
  if (io->flush_like) {
    counters_.Add(io->kind == IoKind::kBarrier ? IoCounters::kBarriers : IoCounters::kFlushes, 1);
    barrier_latency_.Record(detail::NowNs() - io->start_ns);
    std::lock_guard<std::mutex> g(inflight_mu_);
    if (io->inflight_prev != nullptr) io->inflight_prev->inflight_next = io->inflight_next;
    if (io->inflight_next != nullptr) io->inflight_next->inflight_prev = io->inflight_prev;
    if (inflight_head_ == io) inflight_head_ = io->inflight_next;
  }
  delete io;
  orig->Complete(status);
}

void MappedDevice::NoteError(const Bio& piece, std::string_view where, int status) {
  const std::string_view preposition = piece.op == Op::kRead                               ? "from"
                                       : piece.op == Op::kWrite || piece.op == Op::kWriteZeroes ? "to"
                                                                                                : "of";
  std::string text = fmt::format("{} {} {}", OpName(piece.op), preposition, where);
  if (piece.op != Op::kFlush) text += fmt::format(" at sector {}", piece.sector);
  NoteError(fmt::format("{}: {}", text, std::strerror(-status)));
}

void MappedDevice::NoteError(std::string text) {
  std::lock_guard<std::mutex> g(error_mu_);
  last_error_ = std::move(text);
}

void MappedDevice::SetReportedPhase(DmIo* io, BarrierPhase phase) {
  std::lock_guard<std::mutex> g(inflight_mu_);
  io->reported = phase;
}

}  // namespace udm
