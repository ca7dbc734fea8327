// The mirror's region log (dm-log): which regions are clean, i.e. in sync
// with no write in flight. "core" keeps it in memory only; "disk" keeps it
// on a log device in the kernel's on-disk layout (a header in sector 0 with
// magic, version and region count, the clean bitmap from byte 1024, bit n
// of the little-endian bitmap = region n) so that it survives a restart.
// Thread-compatible: the mirror serializes calls (its log mutex).
#pragma once

#include <atomic>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "mirror/mirror_args.h"
#include "mirror/sync_io.h"

namespace udm::mirror {

class RegionLog {
 public:
  // `dev` is the log device (disk log) or null (core log).
  RegionLog(std::shared_ptr<BlockDevice> dev, uint64_t nr_regions, SyncMode sync);

  bool persistent() const { return dev_ != nullptr; }

  // Activation: returns one byte per region, 1 if it starts in sync. A core
  // log starts all out of sync (all in sync with nosync). A disk log reads
  // its bitmap (a missing header, "sync" or "nosync" start afresh) and
  // writes the header back. An unreadable log counts as all out of sync.
  std::vector<uint8_t> Load();

  // Writes the clean bitmap (one byte per region, 1 = clean) and, if
  // `flush`, flushes the log device. Returns 0 or -errno; no-op for core.
  int Store(const std::vector<uint8_t>& clean, bool flush);

  // dm-log's info status: "1 core" or "3 disk <dev> <A|D|F>".
  std::string InfoStatus() const;
  // 'A' healthy, 'D' a log write failed, 'F' a log flush failed.
  char health() const { return health_.load(); }

 private:
  const std::shared_ptr<BlockDevice> dev_;
  const uint64_t nr_regions_;
  const SyncMode sync_;
  AlignedBuffer buf_;  // header + bitmap as written
  uint64_t buf_bytes_ = 0;
  std::atomic<char> health_{'A'};  // read by status on any thread
};

}  // namespace udm::mirror
