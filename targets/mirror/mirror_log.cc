// The mirror's log thread (dm-raid1's kmirrord, for the log's part): marks
// regions dirty on disk, flushed, before the writes that dirty them are
// issued; every so often records regions that went idle and in sync as
// clean (after flushing the legs, so clean on disk always means the legs
// agree on stable storage); and raises events off the I/O path.
#include <chrono>

#include "mirror/mirror_target.h"

namespace udm::mirror {
namespace {

// How often idle regions are recorded as clean (dm-raid1 wakes every 200 ms).
constexpr auto kCleanInterval = std::chrono::milliseconds(250);

}  // namespace

void MirrorTarget::RequestEvent() {
  {
    std::lock_guard<std::mutex> g(mu_);
    event_requested_ = true;
  }
  log_cv_.notify_one();
}

// Loads the log at the first resume (like dm-log's resume) and writes its
// header back, so a fresh log device is initialised.
void MirrorTarget::Activate() {
  std::lock_guard<std::mutex> lg(log_mu_);
  {
    std::lock_guard<std::mutex> g(mu_);
    if (activated_) return;
  }
  std::vector<uint8_t> in_sync = log_.Load();
  {
    std::lock_guard<std::mutex> g(mu_);
    in_sync_ = std::move(in_sync);
    sync_count_ = 0;
    for (uint64_t r = 0; r < args_.nr_regions; ++r) {
      sync_count_ += in_sync_[r];
      log_state_[r] = in_sync_[r] ? LogState::kClean : LogState::kDirty;
    }
    activated_ = true;
  }
  PersistLog(/*flush=*/true);
}

// Writes the log from the current region states. log_mu_ held.
int MirrorTarget::PersistLog(bool flush) {
  std::vector<uint8_t> clean(args_.nr_regions);
  {
    std::lock_guard<std::mutex> g(mu_);
    for (uint64_t r = 0; r < args_.nr_regions; ++r) clean[r] = log_state_[r] == LogState::kClean;
  }
  const int err = log_.Store(clean, flush);
  if (err != 0) RequestEvent();
  return err;
}

bool MirrorTarget::CleanIdleRegionsLocked() {
  bool changed = false;
  for (uint64_t r = 0; r < args_.nr_regions; ++r) {
    if (log_state_[r] == LogState::kDirty && pending_[r] == 0 && in_sync_[r] && !recovering_[r]) {
      log_state_[r] = LogState::kClean;
      changed = true;
    }
  }
  return changed;
}

// Cleans idle regions: their state turns clean first (so new writes to them
// wait in the mark queue, behind log_mu_), then the legs are flushed, then
// the log written (and flushed if `flush_log`). If a leg cannot be flushed
// they stay dirty.
void MirrorTarget::CleanIdleRegions(bool flush_log) {
  std::lock_guard<std::mutex> lg(log_mu_);
  std::vector<uint64_t> cleaned;
  {
    std::lock_guard<std::mutex> g(mu_);
    if (!activated_) return;
    const std::vector<LogState> before = log_state_;
    if (!CleanIdleRegionsLocked() && !flush_log) return;
    for (uint64_t r = 0; r < args_.nr_regions; ++r) {
      if (before[r] != log_state_[r]) cleaned.push_back(r);
    }
  }
  for (size_t i = 0; i < nr_legs_; ++i) {
    if (SyncIo(*legs_[i].dev, Op::kFlush, legs_[i].offset, nullptr, 0) != 0) {
      std::lock_guard<std::mutex> g(mu_);
      for (uint64_t r : cleaned) log_state_[r] = LogState::kDirty;
      return;
    }
  }
  PersistLog(flush_log);
}

// Marks the regions of queued writes dirty with one log write and flush,
// then issues the writes. With keep_log, writes whose mark could not be
// recorded fail instead of going out untracked. mu_ held on entry and exit.
void MirrorTarget::ProcessMarkQueue(std::unique_lock<std::mutex>& l) {
  std::vector<Bio*> bios;
  bios.swap(mark_queue_);
  bool need_write = false;
  for (Bio* bio : bios) {
    LogState& s = log_state_[RegionOf(*bio)];
    if (s == LogState::kClean) {
      s = LogState::kMarking;
      need_write = true;
    }
  }
  l.unlock();
  int err = 0;
  if (need_write) {
    std::lock_guard<std::mutex> lg(log_mu_);
    err = PersistLog(/*flush=*/true);
  }
  l.lock();
  for (Bio* bio : bios) {
    LogState& s = log_state_[RegionOf(*bio)];
    if (s == LogState::kMarking) s = LogState::kDirty;
  }
  l.unlock();
  for (Bio* bio : bios) {
    if (err != 0 && args_.keep_log) {
      EndClone(bio, -EIO);
    } else {
      AdmitWrite(bio);
    }
  }
  l.lock();
}

void MirrorTarget::LogThread() {
  std::unique_lock<std::mutex> l(mu_);
  auto next_clean = std::chrono::steady_clock::now() + kCleanInterval;
  for (;;) {
    log_cv_.wait_until(l, next_clean, [this] {
      return stop_ || (event_requested_ && events_enabled_) || !mark_queue_.empty();
    });
    if (stop_) return;
    if (event_requested_ && events_enabled_) {
      event_requested_ = false;
      raising_event_ = true;
      l.unlock();
      if (raise_event_) raise_event_();
      l.lock();
      raising_event_ = false;
      resync_cv_.notify_all();  // PostSuspend may wait for this
    }
    if (!mark_queue_.empty()) ProcessMarkQueue(l);
    if (std::chrono::steady_clock::now() >= next_clean) {
      next_clean = std::chrono::steady_clock::now() + kCleanInterval;
      if (activated_ && log_.persistent()) {
        l.unlock();
        CleanIdleRegions(/*flush_log=*/false);
        l.lock();
      }
    }
  }
}

}  // namespace udm::mirror
