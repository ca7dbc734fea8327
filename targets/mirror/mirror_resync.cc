// The mirror's resync thread: copies each out-of-sync region from the
// default leg to the others, one region and one chunk at a time. A region
// being copied is locked: new writes to it are held until the copy is done,
// and the copy starts only once the writes already in flight have finished.
#include <fmt/core.h>

#include "mirror/mirror_target.h"
#include "mirror/sync_io.h"

namespace udm::mirror {
namespace {

constexpr uint64_t kCopyChunkSectors = 512;  // 256 KiB per copy I/O

}  // namespace

// The next region to copy, scanning forward from the cursor (regions that
// fall out of sync behind it wait for the next resume, as in dm-log). No
// work while a leg has failed: a copy cannot make the region agree.
bool MirrorTarget::FindResyncWorkLocked(uint64_t* region) {
  for (size_t i = 0; i < nr_legs_; ++i) {
    if (legs_[i].error_count.load() != 0) return false;
  }
  while (resync_cursor_ < args_.nr_regions) {
    const uint64_t r = resync_cursor_++;
    if (!in_sync_[r] && !recovering_[r]) {
      *region = r;
      return true;
    }
  }
  return false;
}

// Copies `region` from leg `src` to every other leg. Returns 0, or the
// error reading the source; legs that could not be written are set in
// *failed_dests.
int MirrorTarget::CopyRegion(uint64_t region, int src, uint32_t* failed_dests) {
  const uint64_t start = region * args_.region_size;
  const uint64_t sectors = RegionSectors(region);
  AlignedBuffer buf = MakeAlignedBuffer(std::min(sectors, kCopyChunkSectors) << kSectorShift);
  for (uint64_t off = 0; off < sectors; off += kCopyChunkSectors) {
    const uint64_t n = std::min(kCopyChunkSectors, sectors - off);
    const Leg& from = legs_[src];
    if (int err = SyncIo(*from.dev, Op::kRead, from.offset + start + off, buf.get(),
                         n << kSectorShift);
        err != 0) {
      return err;
    }
    for (size_t i = 0; i < nr_legs_; ++i) {
      if (static_cast<int>(i) == src || (*failed_dests & (1u << i))) continue;
      if (SyncIo(*legs_[i].dev, Op::kWrite, legs_[i].offset + start + off, buf.get(),
                 n << kSectorShift) != 0) {
        *failed_dests |= 1u << i;
      }
    }
  }
  return 0;
}

// Locks `region`, waits for its writes in flight, copies it and releases the
// writes held meanwhile. mu_ held on entry and exit.
void MirrorTarget::RecoverRegion(std::unique_lock<std::mutex>& l, uint64_t region) {
  recovering_[region] = 1;
  resync_busy_ = true;
  resync_cv_.wait(l, [&] { return pending_[region] == 0; });
  const int src = default_leg_.load();
  l.unlock();

  uint32_t failed_dests = 0;
  const int read_err = CopyRegion(region, src, &failed_dests);
  if (read_err != 0) FailLeg(src, kSyncError);
  for (size_t i = 0; i < nr_legs_; ++i) {
    if (failed_dests & (1u << i)) FailLeg(static_cast<int>(i), kSyncError);
  }

  l.lock();
  bool completed = false;
  if (read_err == 0 && failed_dests == 0 && !in_sync_[region]) {
    in_sync_[region] = 1;
    ++sync_count_;
    completed = AllInSyncLocked();
  }
  recovering_[region] = 0;
  std::vector<Bio*> held;
  if (auto it = delayed_.find(region); it != delayed_.end()) {
    held = std::move(it->second);
    delayed_.erase(it);
  }
  resync_busy_ = false;
  resync_cv_.notify_all();
  l.unlock();
  if (completed) {
    // Every leg holds every region: earlier errors no longer matter (as
    // dm-raid1's reset_ms_flags), and watchers learn the sync is done.
    for (size_t i = 0; i < nr_legs_; ++i) {
      legs_[i].error_count.store(0);
      legs_[i].error_kinds.store(0);
    }
    RequestEvent();
  }
  for (Bio* bio : held) AdmitWrite(bio);
  l.lock();
}

void MirrorTarget::ResyncThread() {
  std::unique_lock<std::mutex> l(mu_);
  for (;;) {
    uint64_t region = 0;
    resync_cv_.wait(l, [&] {
      return stop_ || (resync_enabled_ && activated_ && !resync_busy_ &&
                       FindResyncWorkLocked(&region));
    });
    if (stop_) return;
    RecoverRegion(l, region);
  }
}

}  // namespace udm::mirror
