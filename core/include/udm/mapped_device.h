// MappedDevice: the engine. It owns a live and an inactive table slot, the
// single deferred queue, the suspend gate and a worker thread (the
// userspace kdmflush), and implements the barrier contract of DESIGN.md.
//
// I/O entry (Submit) is thread-safe and never blocks. Control calls (Load,
// Suspend, Resume, ...) are thread-safe, serialized, and may block the
// calling thread; never call them from an I/O completion.
#pragma once

#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "udm/block_device.h"
#include "udm/error.h"
#include "udm/stats.h"
#include "udm/table.h"

namespace udm {

namespace detail {
struct DmIo;
struct CloneIo;
}  // namespace detail

enum class BarrierMode {
  kFlush,    // flushes complete once earlier completed writes are durable
  kOrdered,  // every flush is also an ordered barrier
};
std::string_view BarrierModeName(BarrierMode m);
Result<BarrierMode> ParseBarrierMode(std::string_view s);

struct MappedDeviceOptions {
  std::string name;
  bool read_only = false;
  BarrierMode barrier_mode = BarrierMode::kFlush;
};

class MappedDevice : public BlockDevice {
 public:
  explicit MappedDevice(MappedDeviceOptions options);
  // Suspends (flushing), fails whatever is still deferred with -EIO and
  // stops the worker. No Submit() may race with destruction.
  ~MappedDevice() override;

  MappedDevice(const MappedDevice&) = delete;
  MappedDevice& operator=(const MappedDevice&) = delete;

  // --- I/O (BlockDevice) ---------------------------------------------------
  // Completes with -EIO beyond the end or without a live table, -EROFS for
  // writes to a read-only device, -EINVAL for a malformed request.
  void Submit(Bio* bio) override;
  uint64_t sectors() const override;
  const std::string& name() const override { return options_.name; }

  // --- Control ---------------------------------------------------------------
  // Puts `table` into the inactive slot, replacing any inactive table.
  Status Load(std::unique_ptr<Table> table);
  // Drops the inactive table, if any.
  void ClearInactive();
  // Stops issuing I/O (new requests are queued), waits for in-flight
  // requests and barriers, then flushes every device unless `noflush`.
  Status Suspend(bool noflush = false);
  // Swaps in the inactive table if one is loaded (suspending first if
  // needed), then runs the deferred queue. A no-op on an active device
  // without an inactive table. If the new table's preresume fails, the
  // device is left as it was: suspended if it was, else active on the old
  // table, with the inactive table still loaded.
  Status Resume();
  // Resumes on the live table, leaving any inactive table loaded.
  Status ResumeKeepingLive();
  // Sends a message to the target at `sector` of the live table.
  Result<std::string> Message(uint64_t sector, std::span<const std::string> args);
  // Fails every deferred request with -EIO (remove --force). Requires the
  // device to be suspended.
  Status FailDeferred();

  // --- Introspection ---------------------------------------------------------
  bool read_only() const { return options_.read_only; }
  BarrierMode barrier_mode() const { return options_.barrier_mode; }
  SuspendState suspend_state() const;
  bool has_live() const;
  bool has_inactive() const;
  // Table text (kTable) or status text (kInfo) of the live or inactive
  // table; nullopt if that slot is empty.
  std::optional<std::string> TableText(bool inactive, StatusType type) const;
  // Devices of the live table.
  std::vector<std::string> LiveDeviceNames() const;
  size_t num_targets() const;
  // Counters, latencies and the last error (StatsSnapshot::last_error).
  StatsSnapshot Stats() const;

  // Events: suspend, resume, table swap and target-raised events bump the
  // event number. WaitEvent blocks until it exceeds `after` or `timeout_ms`
  // passes, and returns the current number.
  uint64_t event_nr() const { return event_nr_.load(std::memory_order_acquire); }
  uint64_t WaitEvent(uint64_t after, int timeout_ms) const;
  // Called after every event with the new number, on the thread that raised
  // it. Set before I/O starts.
  void SetEventListener(std::function<void(uint64_t)> listener);
  // Bumps the event number (targets do this through TableOptions).
  void RaiseEvent();

 private:
  friend void CloneEndIo(Bio* clone, int status);

  // The gate word: kBlocked set means submitters must take the slow path
  // (behind the deferred queue); bits 0-31 count admitted requests; bits
  // 32-62 are an admission sequence number (orders requeued requests).
  static constexpr uint64_t kBlocked = 1ull << 63;
  static constexpr uint64_t kCountMask = 0xffffffffull;

  bool TryAdmitFast(detail::DmIo* io);
  void Admit(detail::DmIo* io);
  void DecPending();
  uint64_t pending() const { return gate_.load(std::memory_order_acquire) & kCountMask; }

  void SubmitSlow(detail::DmIo* io);
  void StartIo(detail::DmIo* io);
  void IssuePhase(detail::DmIo* io);
  void IssueFlushClones(detail::DmIo* io);
  void IssuePayloadClones(detail::DmIo* io);
  static void IssueClone(detail::CloneIo* c);
  static void FinishClone(detail::DmIo* io, int status, bool requeue);
  void PhaseDoneFromClone(detail::DmIo* io);
  void SignalFlushWaiter(detail::DmIo* io);
  void Finish(detail::DmIo* io, int status);
  void Requeue(detail::DmIo* io);
  void CompleteOriginal(detail::DmIo* io, int status);
  void SetReportedPhase(detail::DmIo* io, BarrierPhase phase);
  std::vector<std::pair<uint64_t, uint64_t>> BarrierWaiters() const;  // (barrier id, waiters)
  // Remembers why a request failed, for Stats().last_error. `where` is the
  // device (or volume) the failed piece went to; error paths only.
  void NoteError(const Bio& piece, std::string_view where, int status);
  void NoteError(std::string text);

  void WorkerLoop();
  bool Step(std::unique_lock<std::mutex>& l);
  bool StepBarrier(std::unique_lock<std::mutex>& l);
  void StartBarrier(std::unique_lock<std::mutex>& l);
  void FinishBarrier(std::unique_lock<std::mutex>& l, int status);
  // From the completion of the barrier's last phase (mu_ not held).
  void FinishBarrierHere(detail::DmIo* b, std::unique_lock<std::mutex>& l);
  // With mu_ held, after a barrier finished: open the gate at once or let
  // the worker run the deferred queue (rule 4).
  void AfterBarrierLocked();
  void IssueBatch(std::unique_lock<std::mutex>& l, size_t count);
  void WakeLocked();
  void Wake();
  void SetState(SuspendState s);  // mu_ held

  Status SuspendLocked(bool noflush);  // ctl_mu_ held
  Status ResumeLocked(bool swap);      // ctl_mu_ held
  void Unblock();                      // state active, deferred queue run
  int FlushAllSync(Table* table);

  const MappedDeviceOptions options_;

  // Lock order: ctl_mu_, then table_mu_, then mu_, then inflight_mu_,
  // error_mu_ and event_mu_ (leaves).
  mutable std::mutex ctl_mu_;  // serializes control operations; held while they wait
  mutable std::mutex table_mu_;  // held briefly, so readers never wait for a suspend
  std::unique_ptr<Table> live_owner_;      // guarded by table_mu_
  std::unique_ptr<Table> inactive_;        // guarded by table_mu_
  // The live table as I/O sees it. Changed only while suspended with no
  // request admitted, so an admitted request can use it without a reference.
  std::atomic<Table*> live_{nullptr};
  std::atomic<uint64_t> live_sectors_{0};

  std::atomic<uint64_t> gate_{0};

  // The suspend gate and the deferred queue share one lock.
  mutable std::mutex mu_;
  std::condition_variable worker_cv_;      // wakes the worker
  mutable std::condition_variable ctl_cv_; // wakes control calls waiting for idle
  std::deque<detail::DmIo*> deferred_;     // guarded by mu_; the one deferred queue
  size_t requeued_prefix_ = 0;             // guarded by mu_; requeued entries at its front
  SuspendState state_ = SuspendState::kActive;  // guarded by mu_
  detail::DmIo* barrier_ = nullptr;        // guarded by mu_; the ordered barrier being run
  bool barrier_phase_done_ = false;        // guarded by mu_
  // guarded by mu_: a barrier's completion is being delivered (mu_ dropped,
  // FinishBarrier); barrier_ is already cleared, but the deferred queue
  // waits, no barrier starts in Submit, and suspend counts it as in flight.
  bool barrier_finishing_ = false;
  bool work_ = false;                      // guarded by mu_
  bool stop_ = false;                      // guarded by mu_
  std::vector<detail::DmIo*> batch_;       // worker only
  std::atomic<uint64_t> deferred_depth_{0};
  std::atomic<SuspendState> state_mirror_{SuspendState::kActive};

  // Flushes and barriers in flight, for stats.
  mutable std::mutex inflight_mu_;
  detail::DmIo* inflight_head_ = nullptr;  // guarded by inflight_mu_
  std::atomic<uint64_t> next_barrier_id_{1};

  IoCounters counters_;
  LatencyHistogram barrier_latency_;
  mutable std::mutex error_mu_;  // a leaf; taken only when a request fails
  std::string last_error_;       // guarded by error_mu_

  std::atomic<uint64_t> event_nr_{0};
  mutable std::mutex event_mu_;
  mutable std::condition_variable event_cv_;
  std::function<void(uint64_t)> event_listener_;  // guarded by event_mu_

  std::thread worker_;  // last: started after everything above exists
};

}  // namespace udm
