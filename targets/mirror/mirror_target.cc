// MirrorTarget: construction, status, suspend/resume, reads and flushes.
// Writes, the log thread and resync live in their own files.
#include "mirror/mirror_target.h"

#include <fmt/core.h>

#include "udm/check.h"

namespace udm::mirror {

MirrorTarget::MirrorTarget(MirrorArgs args, uint64_t length, std::function<void()> raise_event)
    : args_(std::move(args)),
      length_(length),
      nr_legs_(args_.legs.size()),
      raise_event_(std::move(raise_event)),
      legs_(new Leg[args_.legs.size()]),
      log_(args_.log_dev, args_.nr_regions, args_.sync),
      in_sync_(args_.nr_regions, 0),
      log_state_(args_.nr_regions, LogState::kDirty),
      pending_(args_.nr_regions, 0),
      recovering_(args_.nr_regions, 0) {
  for (size_t i = 0; i < nr_legs_; ++i) {
    legs_[i].dev = args_.legs[i].dev;
    legs_[i].offset = args_.legs[i].offset;
  }
  log_thread_ = std::thread([this] { LogThread(); });
  resync_thread_ = std::thread([this] { ResyncThread(); });
}

MirrorTarget::~MirrorTarget() {
  {
    std::lock_guard<std::mutex> g(mu_);
    stop_ = true;
  }
  log_cv_.notify_all();
  resync_cv_.notify_all();
  log_thread_.join();
  resync_thread_.join();
  // A table is suspended (drained) before it goes away, so nothing should
  // be held here; if something is, it fails rather than vanishing.
  std::vector<Bio*> left;
  left.swap(mark_queue_);
  for (auto& [region, bios] : delayed_) left.insert(left.end(), bios.begin(), bios.end());
  delayed_.clear();
  for (Bio* bio : left) EndClone(bio, -EIO);
}

uint64_t MirrorTarget::RegionSectors(uint64_t region) const {
  const uint64_t start = region * args_.region_size;
  return std::min(args_.region_size, length_ - start);
}

// --- Reads and flushes ---------------------------------------------------------

// In-sync regions are read from any healthy leg in turn; a region that is
// not in sync only from the default leg, the one resync copies from.
int MirrorTarget::ChooseReadLegLocked(uint64_t region) {
  if (!in_sync_[region]) {
    const int d = default_leg_.load();
    return legs_[d].error_count.load() == 0 ? d : -1;
  }
  const uint32_t start = next_read_.fetch_add(1, std::memory_order_relaxed);
  for (size_t k = 0; k < nr_legs_; ++k) {
    const size_t i = (start + k) % nr_legs_;
    if (legs_[i].error_count.load() == 0) return static_cast<int>(i);
  }
  return -1;
}

// The leg a remapped clone went to: by flush number, else by device and the
// range the leg occupies on it.
int MirrorTarget::FindLeg(const Bio& bio) const {
  if (bio.op == Op::kFlush) {
    return bio.target_bio_nr < nr_legs_ ? static_cast<int>(bio.target_bio_nr) : -1;
  }
  for (size_t i = 0; i < nr_legs_; ++i) {
    const Leg& leg = legs_[i];
    if (leg.dev.get() == bio.device && bio.sector >= leg.offset &&
        bio.sector - leg.offset < length_) {
      return static_cast<int>(i);
    }
  }
  return -1;
}

// Records an error on `leg` (dm-raid1's fail_mirror). With handle_errors the
// first error of each kind raises an event, and a failed default leg hands
// over to a healthy one if every region is in sync (otherwise the default
// leg holds the only good copy of some regions and stays).
void MirrorTarget::FailLeg(int leg, uint32_t kind) {
  if (leg < 0) return;
  Leg& l = legs_[leg];
  l.error_count.fetch_add(1);
  if ((l.error_kinds.fetch_or(kind) & kind) != 0) return;
  if (!args_.handle_errors) return;
  {
    std::lock_guard<std::mutex> g(mu_);
    if (leg == default_leg_.load() && (AllInSyncLocked() || args_.keep_log)) {
      for (size_t i = 0; i < nr_legs_; ++i) {
        if (legs_[i].error_count.load() == 0) {
          default_leg_.store(static_cast<int>(i));
          break;
        }
      }
    }
  }
  RequestEvent();
}

MapResult MirrorTarget::Map(Bio* bio) {
  switch (bio->op) {
    case Op::kFlush: {
      UDM_CHECK(bio->target_bio_nr < nr_legs_);
      const Leg& leg = legs_[bio->target_bio_nr];
      bio->device = leg.dev.get();
      bio->sector = leg.offset;
      return MapResult::kRemapped;
    }
    case Op::kRead: {
      int leg;
      {
        std::lock_guard<std::mutex> g(mu_);
        leg = ChooseReadLegLocked(RegionOf(*bio));
      }
      if (leg < 0) return MapResult::kKill;
      bio->device = legs_[leg].dev.get();
      bio->sector = legs_[leg].offset + (bio->sector - begin());
      return MapResult::kRemapped;
    }
    case Op::kWrite:
    case Op::kDiscard:
    case Op::kWriteZeroes:
      AdmitWrite(bio);
      return MapResult::kSubmitted;
  }
  return MapResult::kKill;
}

EndIoResult MirrorTarget::EndIo(Bio* bio, int* status) {
  // Writes were finished by FinishWrite with their final status already.
  if (bio->is_write_like() || *status == 0 || *status == -EOPNOTSUPP) return EndIoResult::kDone;
  const int leg = FindLeg(*bio);
  if (bio->op == Op::kFlush) {
    // A leg whose cache cannot be flushed is failed; the flush still
    // succeeds while another leg is healthy (its copy is durable).
    FailLeg(leg, kFlushError);
    for (size_t i = 0; i < nr_legs_; ++i) {
      if (legs_[i].error_count.load() == 0) {
        *status = 0;
        break;
      }
    }
    return EndIoResult::kDone;
  }
  // A failed read: fail the leg and, if another leg can serve the region,
  // send the whole request back through the deferred queue to be mapped
  // again (Map skips the failed leg).
  if (leg < 0) return EndIoResult::kDone;
  FailLeg(leg, kReadError);
  std::lock_guard<std::mutex> g(mu_);
  const uint64_t region = (bio->sector - legs_[leg].offset) / args_.region_size;
  return ChooseReadLegLocked(region) < 0 ? EndIoResult::kDone : EndIoResult::kRequeue;
}

// --- Suspend and resume ----------------------------------------------------------

// Stops resync and waits for the region being copied, so the writes it
// holds back are released and suspend can drain them.
void MirrorTarget::PreSuspend() {
  std::unique_lock<std::mutex> l(mu_);
  resync_enabled_ = false;
  resync_cv_.wait(l, [this] { return !resync_busy_; });
}

// Nothing is in flight now: every in-sync region is clean; record that.
// Then stop raising events (see events_enabled_).
void MirrorTarget::PostSuspend() {
  CleanIdleRegions(/*flush_log=*/true);
  std::unique_lock<std::mutex> l(mu_);
  events_enabled_ = false;
  resync_cv_.wait(l, [this] { return !raising_event_; });
}

void MirrorTarget::Resume() {
  Activate();
  {
    std::lock_guard<std::mutex> g(mu_);
    resync_enabled_ = true;
    resync_cursor_ = 0;
    events_enabled_ = true;
  }
  resync_cv_.notify_all();
  log_cv_.notify_all();
}

// --- Status ----------------------------------------------------------------------

namespace {

char LegStatusChar(const Leg& leg) {
  if (leg.error_count.load() == 0) return 'A';
  const uint32_t k = leg.error_kinds.load();
  if (k & kFlushError) return 'F';
  if (k & kWriteError) return 'D';
  if (k & kSyncError) return 'S';
  if (k & kReadError) return 'R';
  return 'U';
}

}  // namespace

std::string MirrorTarget::StatusLine(StatusType type) const {
  if (type == StatusType::kTable) return FormatMirrorTable(args_);
  std::string out = fmt::format("{}", nr_legs_);
  std::string health;
  for (size_t i = 0; i < nr_legs_; ++i) {
    out += " " + legs_[i].dev->name();
    health += LegStatusChar(legs_[i]);
  }
  uint64_t in_sync;
  {
    std::lock_guard<std::mutex> g(mu_);
    in_sync = sync_count_;
  }
  out += fmt::format(" {}/{} 1 {} ", in_sync, args_.nr_regions, health);
  out += log_.InfoStatus();  // reads only the log's atomic health
  return out;
}

void MirrorTarget::IterateDevices(const std::function<void(BlockDevice&)>& fn) const {
  for (size_t i = 0; i < nr_legs_; ++i) fn(*legs_[i].dev);
  if (args_.log_dev != nullptr) fn(*args_.log_dev);
}

}  // namespace udm::mirror
