// The engine's control side: the worker thread (the userspace kdmflush)
// that drains the deferred queue and runs ordered barriers, suspend, load,
// resume, messages, events and statistics.
#include "udm/mapped_device.h"

#include <algorithm>
#include <chrono>
#include <cstring>

#include "dm_io.h"
#include "udm/check.h"

namespace udm {

using detail::DmIo;
using detail::IoKind;
using detail::IoPhase;

namespace detail {
// How a control call waits for an internal flush.
struct FlushWaiter {
  std::mutex mu;
  std::condition_variable cv;
  bool done = false;  // guarded by mu
};
}  // namespace detail

std::string_view BarrierModeName(BarrierMode m) {
  return m == BarrierMode::kOrdered ? "ordered" : "flush";
}

Result<BarrierMode> ParseBarrierMode(std::string_view s) {
  if (s == "flush") return BarrierMode::kFlush;
  if (s == "ordered") return BarrierMode::kOrdered;
  return InvalidArgument("barriers: '{}' is not a barrier mode (expected flush or ordered)", s);
}

MappedDevice::MappedDevice(MappedDeviceOptions options) : options_(std::move(options)) {
  worker_ = std::thread([this] { WorkerLoop(); });
}

MappedDevice::~MappedDevice() {
  {
    std::lock_guard<std::mutex> c(ctl_mu_);
    bool active;
    {
      std::lock_guard<std::mutex> g(mu_);
      active = state_ == SuspendState::kActive;
    }
    // A failed final flush leaves the device active (that is what a user's
    // suspend wants), but this one is going away: stop it without the
    // flush, so nothing is issued once it is gone and what is held is
    // failed below instead of being issued by the worker on the way out.
    if (active && !SuspendLocked(/*noflush=*/false)) (void)SuspendLocked(/*noflush=*/true);
  }
  (void)FailDeferred();
  {
    std::lock_guard<std::mutex> g(mu_);
    stop_ = true;
    worker_cv_.notify_all();
  }
  worker_.join();
}

uint64_t MappedDevice::sectors() const { return live_sectors_.load(std::memory_order_acquire); }

// --- The worker -------------------------------------------------------------

void MappedDevice::WakeLocked() {
  if (!work_) {
    work_ = true;
    worker_cv_.notify_one();
  }
}

void MappedDevice::Wake() {
  std::lock_guard<std::mutex> g(mu_);
  WakeLocked();
}

void MappedDevice::SetState(SuspendState s) {
  state_ = s;
  state_mirror_.store(s, std::memory_order_release);
}

void MappedDevice::WorkerLoop() {
  std::unique_lock<std::mutex> l(mu_);
  for (;;) {
    work_ = false;
    while (Step(l)) {
    }
    ctl_cv_.notify_all();  // control calls re-check whether the device is idle
    if (stop_) return;
    worker_cv_.wait(l, [this] { return work_ || stop_; });
  }
}

// Does one piece of work with mu_ held (it may drop it while issuing).
// Returns false when there is nothing to do until the next wakeup.
bool MappedDevice::Step(std::unique_lock<std::mutex>& l) {
  if (barrier_finishing_) return false;  // its finisher runs the queue afterwards
  if (barrier_ != nullptr) return StepBarrier(l);
  if (state_ != SuspendState::kActive) return false;  // the deferred queue waits for resume
  if (deferred_.empty()) {
    gate_.fetch_and(~kBlocked, std::memory_order_acq_rel);
    return false;
  }
  DmIo* front = deferred_.front();
  if (front->kind == IoKind::kBarrier) {
    deferred_.pop_front();
    deferred_depth_.fetch_sub(1, std::memory_order_relaxed);
    barrier_ = front;
    barrier_->phase = IoPhase::kWaitEarlier;
    SetReportedPhase(barrier_, BarrierPhase::kWaitEarlier);
    return true;
  }
  size_t n = 0;
  while (n < deferred_.size() && n < 64 && deferred_[n]->kind != IoKind::kBarrier) ++n;
  IssueBatch(l, n);
  return true;
}

// Admits and starts the first `count` deferred requests.
void MappedDevice::IssueBatch(std::unique_lock<std::mutex>& l, size_t count) {
  batch_.clear();
  for (size_t i = 0; i < count; ++i) {
    DmIo* io = deferred_.front();
    deferred_.pop_front();
    if (requeued_prefix_ > 0) --requeued_prefix_;
    Admit(io);
    batch_.push_back(io);
  }
  deferred_depth_.fetch_sub(count, std::memory_order_relaxed);
  l.unlock();
  for (DmIo* io : batch_) StartIo(io);
  l.lock();
}

bool MappedDevice::StepBarrier(std::unique_lock<std::mutex>& l) {
  DmIo* b = barrier_;
  if (b->phase == IoPhase::kWaitEarlier) {
    if (requeued_prefix_ > 0) {
      // Requests admitted before the barrier came back requeued: they are
      // earlier I/O, so they run (and finish) first.
      if (state_ == SuspendState::kActive) {
        IssueBatch(l, requeued_prefix_);
        return true;
      }
      // Suspended with requeued I/O held: the barrier has not started, so
      // it goes back into the queue, behind them.
      deferred_.insert(deferred_.begin() + static_cast<ptrdiff_t>(requeued_prefix_), b);
      deferred_depth_.fetch_add(1, std::memory_order_relaxed);
      barrier_ = nullptr;
      SetReportedPhase(b, BarrierPhase::kQueued);
      return true;
    }
    if (pending() != 0) return false;  // rule 1: wait for all earlier requests
    StartBarrier(l);
    if (!l.owns_lock()) l.lock();
    return true;
  }
  if (!barrier_phase_done_) return false;
  barrier_phase_done_ = false;
  if (b->requeue.exchange(false, std::memory_order_relaxed)) {
    counters_.Add(IoCounters::kRequeues, 1);
    b->status.store(0, std::memory_order_relaxed);
    b->phase = IoPhase::kWaitEarlier;
    if (state_ != SuspendState::kActive) {  // held until resume, like any queued request
      deferred_.insert(deferred_.begin() + static_cast<ptrdiff_t>(requeued_prefix_), b);
      deferred_depth_.fetch_add(1, std::memory_order_relaxed);
      barrier_ = nullptr;
      SetReportedPhase(b, BarrierPhase::kQueued);
      ctl_cv_.notify_all();
      return true;
    }
    SetReportedPhase(b, BarrierPhase::kWaitEarlier);
    return true;
  }
  // A failed phase or the last one was finished where it completed
  // (FinishBarrierHere); what reaches the worker has a next phase.
  UDM_CHECK(b->status.load(std::memory_order_relaxed) == 0);
  UDM_CHECK(b->phase == IoPhase::kPayload || (b->phase == IoPhase::kPreflush && b->has_payload()));
  b->phase = b->phase == IoPhase::kPreflush ? IoPhase::kPayload : IoPhase::kPostflush;
  l.unlock();
  IssuePhase(b);
  l.lock();
  return true;
}

// Returns with `l` held if the barrier failed at once, else released: the
// barrier may have completed (and its device gone) by the time IssuePhase
// returns, so nothing here touches the device afterwards.
void MappedDevice::StartBarrier(std::unique_lock<std::mutex>& l) {
  DmIo* b = barrier_;
  b->table = live_.load(std::memory_order_acquire);
  if (b->table == nullptr || b->orig->end_sector() > b->table->sectors()) {
    FinishBarrier(l, -EIO);
    return;
  }
  b->status.store(0, std::memory_order_relaxed);
  b->phase = IoPhase::kPreflush;
  l.unlock();
  IssuePhase(b);
}

// While the completion is delivered (mu_ dropped) the barrier still counts
// as in flight: Step does not run the deferred queue, suspend waits and no
// other barrier starts in Submit.
void MappedDevice::FinishBarrier(std::unique_lock<std::mutex>& l, int status) {
  DmIo* b = barrier_;
  barrier_ = nullptr;
  barrier_finishing_ = true;
  l.unlock();
  CompleteOriginal(b, status);
  l.lock();
  barrier_finishing_ = false;
  ctl_cv_.notify_all();  // rule 5: a suspend may be waiting for this barrier
}

// The barrier's last phase is done and nothing asks for a requeue: its
// completion is delivered right here, on the thread that completed the
// phase, instead of waking the worker for it (one thread hop less per
// ordered flush). As in FinishBarrier, the deferred queue runs only after
// the completion has been delivered.
void MappedDevice::FinishBarrierHere(DmIo* b, std::unique_lock<std::mutex>& l) {
  UDM_CHECK(barrier_ == b);
  FinishBarrier(l, b->status.load(std::memory_order_relaxed));  // rule 2: the post-flush is done
  AfterBarrierLocked();
}

void MappedDevice::AfterBarrierLocked() {
  if (state_ == SuspendState::kActive && deferred_.empty() && barrier_ == nullptr) {
    gate_.fetch_and(~kBlocked, std::memory_order_acq_rel);  // nothing held: open at once
  } else {
    WakeLocked();  // rule 4: lifting the block always runs the deferred queue
  }
}

void MappedDevice::SignalFlushWaiter(DmIo* io) {
  detail::FlushWaiter* w = io->waiter;
  std::lock_guard<std::mutex> g(w->mu);
  w->done = true;
  w->cv.notify_all();
}

// Flushes every device of `table`, bypassing the gate. Control path only.
int MappedDevice::FlushAllSync(Table* table) {
  int status = 0;
  for (int attempt = 0; attempt < 3; ++attempt) {
    detail::FlushWaiter waiter;
    DmIo io;
    io.md = this;
    io.table = table;
    io.kind = IoKind::kInternalFlush;
    io.phase = IoPhase::kPreflush;
    io.waiter = &waiter;
    IssuePhase(&io);
    std::unique_lock<std::mutex> l(waiter.mu);
    waiter.cv.wait(l, [&] { return waiter.done; });
    if (!io.requeue.load(std::memory_order_relaxed)) return io.status.load();
    status = -EIO;
  }
  return status;
}

// --- Control ------------------------------------------------------------------

Status MappedDevice::Load(std::unique_ptr<Table> table) {
  UDM_CHECK(table != nullptr);
  std::lock_guard<std::mutex> c(ctl_mu_);
  if (options_.read_only && table->writable()) {
    return InvalidArgument("device {} is read-only but the table was built writable", name());
  }
  std::unique_ptr<Table> old;
  {
    std::lock_guard<std::mutex> t(table_mu_);
    old = std::move(inactive_);
    inactive_ = std::move(table);
  }
  return {};
}

void MappedDevice::ClearInactive() {
  std::lock_guard<std::mutex> c(ctl_mu_);
  std::unique_ptr<Table> old;
  std::lock_guard<std::mutex> t(table_mu_);
  old = std::move(inactive_);
}

Status MappedDevice::Suspend(bool noflush) {
  std::lock_guard<std::mutex> c(ctl_mu_);
  return SuspendLocked(noflush);
}

Status MappedDevice::SuspendLocked(bool noflush) {
  {
    std::lock_guard<std::mutex> g(mu_);
    if (state_ != SuspendState::kActive) {
      return Fail(ErrorCode::kBusy, EBUSY, "device {} is already suspended", name());
    }
  }
  Table* live = live_.load(std::memory_order_acquire);
  if (live != nullptr) live->PreSuspend();
  {
    std::unique_lock<std::mutex> l(mu_);
    SetState(SuspendState::kSuspending);
    gate_.fetch_or(kBlocked, std::memory_order_acq_rel);
    // Rule 5: in-flight barriers as well as ordinary I/O.
    ctl_cv_.wait(l, [this] {
      return pending() == 0 && barrier_ == nullptr && !barrier_finishing_;
    });
  }
  if (!noflush && live != nullptr) {
    if (const int r = FlushAllSync(live); r != 0) {
      live->Resume();
      std::lock_guard<std::mutex> g(mu_);
      SetState(SuspendState::kActive);
      WakeLocked();
      return Fail(ErrorCode::kIo, -r, "suspend of {}: flushing the devices failed: {}", name(),
                  std::strerror(-r));
    }
  }
  if (live != nullptr) live->PostSuspend();
  {
    std::lock_guard<std::mutex> g(mu_);
    SetState(SuspendState::kSuspended);
  }
  RaiseEvent();
  return {};
}

Status MappedDevice::Resume() {
  std::lock_guard<std::mutex> c(ctl_mu_);
  return ResumeLocked(/*swap=*/true);
}

Status MappedDevice::ResumeKeepingLive() {
  std::lock_guard<std::mutex> c(ctl_mu_);
  return ResumeLocked(/*swap=*/false);
}

Status MappedDevice::ResumeLocked(bool swap) {
  bool active;
  {
    std::lock_guard<std::mutex> g(mu_);
    active = state_ == SuspendState::kActive;
  }
  bool has_new, first;
  {
    std::lock_guard<std::mutex> t(table_mu_);
    has_new = swap && inactive_ != nullptr;
    first = live_owner_ == nullptr;  // nothing served yet: nothing to drain or report
  }
  if (active && !has_new) return {};
  if (active && !first) {
    if (auto st = SuspendLocked(false); !st) return st;
  }
  std::unique_ptr<Table> old;
  {
    std::lock_guard<std::mutex> t(table_mu_);
    Table* next = has_new ? inactive_.get() : live_owner_.get();
    if (next != nullptr) {
      if (auto st = next->PreResume(); !st) {
        if (active && live_owner_ != nullptr) live_owner_->Resume();  // back as it was
        if (active) Unblock();
        return std::unexpected(st.error().Prefixed(fmt::format("resume of {}", name())));
      }
    }
    if (has_new) {
      old = std::move(live_owner_);
      live_owner_ = std::move(inactive_);
      live_.store(live_owner_.get(), std::memory_order_release);
      live_sectors_.store(live_owner_->sectors(), std::memory_order_release);
    }
    if (live_owner_ != nullptr) live_owner_->Resume();
  }
  Unblock();
  if (!(active && first)) {  // a device's first table going live is not an event
    if (has_new) RaiseEvent();  // table swap
    RaiseEvent();
  }
  return {};
}

void MappedDevice::Unblock() {
  std::lock_guard<std::mutex> g(mu_);
  SetState(SuspendState::kActive);
  if (barrier_finishing_) {
    WakeLocked();  // its finisher opens the gate or runs the queue
  } else {
    AfterBarrierLocked();
  }
}

Result<std::string> MappedDevice::Message(uint64_t sector, std::span<const std::string> args) {
  std::lock_guard<std::mutex> c(ctl_mu_);
  std::lock_guard<std::mutex> t(table_mu_);
  if (live_owner_ == nullptr) {
    return Fail(ErrorCode::kBusy, ENXIO, "device {} has no live table", name());
  }
  if (sector >= live_owner_->sectors()) {
    return InvalidArgument("sector: {} is beyond the end of {} ({} sectors)", sector, name(),
                           live_owner_->sectors());
  }
  if (args.empty()) return InvalidArgument("message: empty");
  Target* target = live_owner_->entry(live_owner_->FindTarget(sector)).target.get();
  std::string reply;
  if (auto st = target->Message(args, &reply); !st) return std::unexpected(st.error());
  return reply;
}

Status MappedDevice::FailDeferred() {
  std::deque<DmIo*> failed;
  {
    std::lock_guard<std::mutex> g(mu_);
    if (state_ != SuspendState::kSuspended) {
      return Fail(ErrorCode::kBusy, EBUSY, "device {} is not suspended", name());
    }
    failed.swap(deferred_);
    requeued_prefix_ = 0;
    deferred_depth_.store(0, std::memory_order_relaxed);
  }
  for (DmIo* io : failed) CompleteOriginal(io, -EIO);
  return {};
}

// --- Introspection --------------------------------------------------------------

SuspendState MappedDevice::suspend_state() const {
  return state_mirror_.load(std::memory_order_acquire);
}

bool MappedDevice::has_live() const {
  std::lock_guard<std::mutex> t(table_mu_);
  return live_owner_ != nullptr;
}

bool MappedDevice::has_inactive() const {
  std::lock_guard<std::mutex> t(table_mu_);
  return inactive_ != nullptr;
}

std::optional<std::string> MappedDevice::TableText(bool inactive, StatusType type) const {
  std::lock_guard<std::mutex> t(table_mu_);
  const Table* table = inactive ? inactive_.get() : live_owner_.get();
  if (table == nullptr) return std::nullopt;
  return table->Text(type);
}

std::vector<std::string> MappedDevice::LiveDeviceNames() const {
  std::lock_guard<std::mutex> t(table_mu_);
  std::vector<std::string> out;
  if (live_owner_ != nullptr) {
    for (BlockDevice* d : live_owner_->Devices()) out.push_back(d->name());
  }
  return out;
}

size_t MappedDevice::num_targets() const {
  std::lock_guard<std::mutex> t(table_mu_);
  return live_owner_ == nullptr ? 0 : live_owner_->num_targets();
}

StatsSnapshot MappedDevice::Stats() const {
  StatsSnapshot s;
  s.reads = counters_.Sum(IoCounters::kReads);
  s.writes = counters_.Sum(IoCounters::kWrites);
  s.flushes = counters_.Sum(IoCounters::kFlushes);
  s.barriers = counters_.Sum(IoCounters::kBarriers);
  s.discards = counters_.Sum(IoCounters::kDiscards);
  s.write_zeroes = counters_.Sum(IoCounters::kWriteZeroes);
  s.read_bytes = counters_.Sum(IoCounters::kReadBytes);
  s.write_bytes = counters_.Sum(IoCounters::kWriteBytes);
  s.errors = counters_.Sum(IoCounters::kErrors);
  s.requeues = counters_.Sum(IoCounters::kRequeues);
  s.in_flight = pending();
  s.deferred = deferred_depth_.load(std::memory_order_relaxed);
  s.barrier_latency = barrier_latency_.Percentiles();
  s.suspend_state = suspend_state();
  s.event_nr = event_nr();
  {
    std::lock_guard<std::mutex> g(error_mu_);
    s.last_error = last_error_;
  }
  s.barrier_latency_histogram = barrier_latency_.Buckets();
  const std::vector<std::pair<uint64_t, uint64_t>> waiters = BarrierWaiters();
  std::lock_guard<std::mutex> g(inflight_mu_);
  // Read under the lock: every listed barrier was stamped before it was
  // listed, so none is younger than `now` and no age wraps around.
  const uint64_t now = detail::NowNs();
  for (const DmIo* io = inflight_head_; io != nullptr; io = io->inflight_next) {
    InflightBarrier b{io->barrier_id, io->kind == IoKind::kBarrier, io->reported,
                      (now - io->start_ns) / 1000};
    for (const auto& [id, n] : waiters) {
      if (id == io->barrier_id) b.waiters = n;
    }
    s.inflight_barriers.push_back(b);
  }
  return s;
}

// How many deferred requests wait behind each ordered barrier: the running
// one holds the whole queue except the requeued prefix (earlier I/O), and a
// queued one everything behind it. A plain flush orders nothing, so what is
// queued behind it waits for the suspend or barrier ahead, not for it.
// Walks the deferred queue under mu_ on the control path only. Barriers are
// named by id, not address: once mu_ is dropped one may complete and a new
// flush take its address before Stats() matches them.
std::vector<std::pair<uint64_t, uint64_t>> MappedDevice::BarrierWaiters() const {
  std::vector<std::pair<uint64_t, uint64_t>> out;
  std::lock_guard<std::mutex> l(mu_);
  const size_t n = deferred_.size();
  if (barrier_ != nullptr) out.emplace_back(barrier_->barrier_id, n - std::min(n, requeued_prefix_));
  for (size_t i = 0; i < n; ++i) {
    if (deferred_[i]->kind == IoKind::kBarrier) out.emplace_back(deferred_[i]->barrier_id, n - i - 1);
  }
  return out;
}

// --- Events ---------------------------------------------------------------------

void MappedDevice::RaiseEvent() {
  std::function<void(uint64_t)> listener;
  uint64_t n;
  {
    std::lock_guard<std::mutex> g(event_mu_);
    n = event_nr_.fetch_add(1, std::memory_order_acq_rel) + 1;
    listener = event_listener_;
  }
  event_cv_.notify_all();
  if (listener) listener(n);
}

uint64_t MappedDevice::WaitEvent(uint64_t after, int timeout_ms) const {
  std::unique_lock<std::mutex> l(event_mu_);
  event_cv_.wait_for(l, std::chrono::milliseconds(timeout_ms), [&] { return event_nr() > after; });
  return event_nr();
}

void MappedDevice::SetEventListener(std::function<void(uint64_t)> listener) {
  std::lock_guard<std::mutex> g(event_mu_);
  event_listener_ = std::move(listener);
}

}  // namespace udm
