// MirrorTarget: dm-raid1 in userspace. Writes go to every leg (the target
// fans them out itself), reads are balanced over the healthy legs of
// in-sync regions, flushes go to every leg. A region log records which
// regions may differ between legs; a resync thread copies those from the
// default leg to the others, region by region, holding back writes to the
// region being copied. A log thread persists dirty marks before the writes
// that need them are issued and lazily records regions that became clean.
//
// Where it differs from dm-raid1, on purpose: with handle_errors a write
// that reached a surviving leg completes at once (the kernel holds it for
// dmeventd unless keep_log); reads of in-sync regions rotate over the
// healthy legs (the kernel reads the default leg); no region is copied
// while a leg has failed, so regions stay out of sync until the mirror is
// reloaded; and a failed copy never counts as in sync.
//
// Implementation is split by concern: mirror_target.cc (construction,
// status, suspend/resume, reads and flushes), mirror_write.cc (writes),
// mirror_log.cc (the log thread), mirror_resync.cc (the resync thread).
#pragma once

#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <thread>
#include <vector>

#include "mirror/mirror_args.h"
#include "mirror/region_log.h"
#include "udm/target.h"

namespace udm::mirror {

// Error kinds a leg has seen; the status shows the most severe one, in
// dm-raid1's order F, D, S, R.
inline constexpr uint32_t kFlushError = 1u << 0;
inline constexpr uint32_t kWriteError = 1u << 1;
inline constexpr uint32_t kSyncError = 1u << 2;
inline constexpr uint32_t kReadError = 1u << 3;

struct Leg {
  std::shared_ptr<BlockDevice> dev;
  uint64_t offset = 0;
  std::atomic<uint32_t> error_count{0};  // errors seen; nonzero = not used for reads
  std::atomic<uint32_t> error_kinds{0};  // k*Error bits
};

class MirrorTarget : public Target {
 public:
  MirrorTarget(MirrorArgs args, uint64_t length, std::function<void()> raise_event);
  ~MirrorTarget() override;

  MapResult Map(Bio* bio) override;
  EndIoResult EndIo(Bio* bio, int* status) override;
  void PreSuspend() override;
  void PostSuspend() override;
  void Resume() override;
  std::string StatusLine(StatusType type) const override;
  void IterateDevices(const std::function<void(BlockDevice&)>& fn) const override;
  uint64_t max_io_len() const override { return args_.region_size; }
  uint32_t num_flush_bios() const override { return static_cast<uint32_t>(nr_legs_); }

 private:
  struct WriteJob;
  // A region's state in the log: clean (no dirty mark needed on disk until
  // a write comes), being marked dirty (a log write is in progress), dirty.
  enum class LogState : uint8_t { kClean, kMarking, kDirty };

  uint64_t RegionOf(const Bio& bio) const { return (bio.sector - begin()) / args_.region_size; }
  uint64_t RegionSectors(uint64_t region) const;
  bool AllInSyncLocked() const { return sync_count_ == args_.nr_regions; }  // mu_ held

  // Reads and flushes (mirror_target.cc).
  int ChooseReadLegLocked(uint64_t region);  // -1 if no leg can serve it
  int FindLeg(const Bio& bio) const;
  void FailLeg(int leg, uint32_t kind);

  // Writes (mirror_write.cc).
  void AdmitWrite(Bio* bio);
  void DispatchWrite(Bio* bio, uint64_t region, bool all_legs);
  static void WriteLegDone(Bio* leg_bio, int status);
  void FinishWrite(WriteJob* job);
  void MarkNoSync(uint64_t region);

  // The region log (mirror_log.cc).
  void LogThread();
  void Activate();
  int PersistLog(bool flush);
  bool CleanIdleRegionsLocked();  // mu_ held
  void CleanIdleRegions(bool flush_log);
  void ProcessMarkQueue(std::unique_lock<std::mutex>& l);
  void RequestEvent();

  // Resync (mirror_resync.cc).
  void ResyncThread();
  bool FindResyncWorkLocked(uint64_t* region);
  void RecoverRegion(std::unique_lock<std::mutex>& l, uint64_t region);
  int CopyRegion(uint64_t region, int src, uint32_t* failed_dests);

  const MirrorArgs args_;
  const uint64_t length_;
  const size_t nr_legs_;
  const std::function<void()> raise_event_;
  std::unique_ptr<Leg[]> legs_;
  std::atomic<int> default_leg_{0};  // the leg nosync regions are read from and copied from
  std::atomic<uint32_t> next_read_{0};  // round robin over healthy legs

  // Serializes region log I/O (log thread, activation, post-suspend).
  // Lock order: log_mu_, then mu_.
  std::mutex log_mu_;
  RegionLog log_;  // guarded by log_mu_ (health() may be read without it)

  // Region state, queues and thread control below are protected by mu_.
  mutable std::mutex mu_;
  std::condition_variable log_cv_;     // wakes the log thread
  std::condition_variable resync_cv_;  // wakes the resync thread and those waiting for it
  bool activated_ = false;             // the log was loaded (first resume)
  std::vector<uint8_t> in_sync_;       // per region: legs hold the same data
  uint64_t sync_count_ = 0;            // regions in sync
  std::vector<LogState> log_state_;
  std::vector<uint32_t> pending_;      // writes in flight per region
  std::vector<uint8_t> recovering_;    // per region: being copied, writes held
  std::map<uint64_t, std::vector<Bio*>> delayed_;  // writes held per recovering region
  std::vector<Bio*> mark_queue_;       // writes waiting for a dirty mark on disk
  bool event_requested_ = false;
  // Events reach the device only between resume and post-suspend: a
  // suspended table may be destroyed together with its device, so nothing
  // may call into the device then. Requests meanwhile wait for the resume.
  bool events_enabled_ = false;
  bool raising_event_ = false;         // the log thread is inside raise_event_
  bool resync_enabled_ = false;        // between resume and presuspend
  bool resync_busy_ = false;           // a region is being recovered
  uint64_t resync_cursor_ = 0;         // next region to look at; restarts on resume
  bool stop_ = false;

  std::thread log_thread_;
  std::thread resync_thread_;
};

}  // namespace udm::mirror
