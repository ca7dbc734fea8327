// Per-request state of the engine (the kernel's dm_io and dm_target_io):
// one DmIo per submitted request, one CloneIo per piece sent to a target.
// Internal to udm_core.
#pragma once

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <memory>

#include "udm/bio.h"
#include "udm/mapped_device.h"
#include "udm/stats.h"
#include "udm/table.h"

namespace udm::detail {

enum class IoKind : uint8_t {
  kNormal,         // reads, writes, discards, write-zeroes, flushes (flush mode)
  kBarrier,        // an ordered barrier, run by the worker
  kInternalFlush,  // the flush a suspend issues
};

enum class IoPhase : uint8_t { kNone, kWaitEarlier, kPreflush, kPayload, kPostflush };

struct DmIo;

// A clone of (part of) the original request, as one target sees it.
struct CloneIo {
  Bio bio;  // first member: a Bio* handed to a target converts back
  DmIo* io = nullptr;
  Target* target = nullptr;

  static CloneIo* From(Bio* b) { return reinterpret_cast<CloneIo*>(b); }
};
static_assert(offsetof(CloneIo, bio) == 0);

struct FlushWaiter;

struct DmIo {
  MappedDevice* md = nullptr;
  Bio* orig = nullptr;   // the submitter's request; null for internal flushes
  Table* table = nullptr;  // the live table when the request was admitted
  IoKind kind = IoKind::kNormal;
  IoPhase phase = IoPhase::kNone;
  bool flush_like = false;  // tracked in the in-flight barrier list

  // Clones of the current phase not yet finished (+1 while issuing).
  std::atomic<uint32_t> outstanding{0};
  std::atomic<int> status{0};  // first error across phases
  std::atomic<bool> requeue{false};
  uint32_t seq = 0;  // admission sequence number

  uint64_t start_ns = 0;
  uint64_t barrier_id = 0;
  BarrierPhase reported = BarrierPhase::kQueued;  // guarded by md->inflight_mu_
  DmIo* inflight_prev = nullptr;  // guarded by md->inflight_mu_
  DmIo* inflight_next = nullptr;  // guarded by md->inflight_mu_
  FlushWaiter* waiter = nullptr;  // kInternalFlush only

  CloneIo inline_clone;
  std::unique_ptr<CloneIo[]> clones;
  uint32_t clones_cap = 0;

  // Storage for `n` clones of one phase; valid until the next call.
  CloneIo* Clones(uint32_t n) {
    if (n <= 1) return &inline_clone;
    if (clones_cap < n) {
      clones.reset(new CloneIo[n]);
      clones_cap = n;
    }
    return clones.get();
  }
  bool has_payload() const { return orig != nullptr && orig->op != Op::kFlush; }
};

uint64_t NowNs();

}  // namespace udm::detail
