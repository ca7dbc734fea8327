// Writes (and discards, write-zeroes) of the mirror target: held while their
// region is being resynced or marked dirty in the log, then fanned out to
// the legs; finished when every leg has answered. A write that reached at
// least one leg succeeds and leaves its region out of sync.
#include <bit>

#include "mirror/mirror_target.h"
#include "udm/check.h"

namespace udm::mirror {

// One write fanned out to the legs; freed when the last leg answers.
struct MirrorTarget::WriteJob {
  MirrorTarget* target = nullptr;
  Bio* clone = nullptr;
  uint64_t region = 0;
  uint32_t nr = 0;                      // legs written
  std::atomic<uint32_t> remaining{0};
  std::atomic<uint32_t> failed{0};      // bit i: legs[i] failed
  std::atomic<int> first_error{0};
  Bio bios[kMaxMirrors];
  uint8_t leg_of[kMaxMirrors] = {};     // bios[k] goes to legs_[leg_of[k]]
};

// Decides what happens to a write now: held behind a region copy, queued
// for the log thread to mark its region dirty first, or issued.
void MirrorTarget::AdmitWrite(Bio* bio) {
  const uint64_t region = RegionOf(*bio);
  bool all_legs;
  {
    std::lock_guard<std::mutex> g(mu_);
    if (recovering_[region]) {
      delayed_[region].push_back(bio);
      return;
    }
    if (log_state_[region] != LogState::kDirty) {
      if (log_.persistent()) {
        mark_queue_.push_back(bio);
        log_cv_.notify_one();
        return;
      }
      log_state_[region] = LogState::kDirty;  // a core log has nothing to persist
    }
    ++pending_[region];
    // A region out of sync is written to the default leg only: resync
    // copies it from there to the others anyway (as dm-raid1).
    all_legs = in_sync_[region] != 0;
  }
  DispatchWrite(bio, region, all_legs);
}

void MirrorTarget::DispatchWrite(Bio* bio, uint64_t region, bool all_legs) {
  auto* job = new WriteJob;
  job->target = this;
  job->clone = bio;
  job->region = region;
  const int def = default_leg_.load();
  for (size_t i = 0; i < nr_legs_; ++i) {
    if (!all_legs && static_cast<int>(i) != def) continue;
    Bio& b = job->bios[job->nr];
    b = Bio{};
    b.op = bio->op;
    b.flags = bio->flags;
    b.sector = legs_[i].offset + (bio->sector - begin());
    b.sectors = bio->sectors;
    b.iov = bio->iov;
    b.iov_count = bio->iov_count;
    b.iov_offset = bio->iov_offset;
    b.end_io = &MirrorTarget::WriteLegDone;
    b.private_data = job;
    job->leg_of[job->nr] = static_cast<uint8_t>(i);
    ++job->nr;
  }
  job->remaining.store(job->nr + 1);  // +1 while submitting
  for (uint32_t k = 0; k < job->nr; ++k) legs_[job->leg_of[k]].dev->Submit(&job->bios[k]);
  if (job->remaining.fetch_sub(1) == 1) FinishWrite(job);
}

void MirrorTarget::WriteLegDone(Bio* leg_bio, int status) {
  auto* job = static_cast<WriteJob*>(leg_bio->private_data);
  if (status != 0) {
    const auto k = static_cast<uint32_t>(leg_bio - job->bios);
    job->failed.fetch_or(1u << job->leg_of[k]);
    int none = 0;
    job->first_error.compare_exchange_strong(none, status);
  }
  if (job->remaining.fetch_sub(1) == 1) job->target->FinishWrite(job);
}

void MirrorTarget::FinishWrite(WriteJob* job) {
  const uint32_t failed = job->failed.load();
  int status = 0;
  if (failed != 0) {
    if (job->clone->op == Op::kDiscard) {
      status = job->first_error.load();  // as dm-raid1: a discard error degrades nothing
    } else {
      for (size_t i = 0; i < nr_legs_; ++i) {
        if (failed & (1u << i)) FailLeg(static_cast<int>(i), kWriteError);
      }
      if (static_cast<uint32_t>(std::popcount(failed)) < job->nr) {
        MarkNoSync(job->region);  // a surviving leg has it: the write succeeded
      } else {
        status = job->first_error.load();
      }
    }
  }
  {
    std::lock_guard<std::mutex> g(mu_);
    UDM_CHECK(pending_[job->region] > 0);
    if (--pending_[job->region] == 0 && recovering_[job->region]) resync_cv_.notify_all();
  }
  Bio* clone = job->clone;
  delete job;
  EndClone(clone, status);
}

// The legs now differ in `region`: it stays dirty in the log (it is dirty
// while a write is pending) and is copied again by the next resync.
void MirrorTarget::MarkNoSync(uint64_t region) {
  std::lock_guard<std::mutex> g(mu_);
  if (in_sync_[region]) {
    in_sync_[region] = 0;
    --sync_count_;
  }
}

}  // namespace udm::mirror
