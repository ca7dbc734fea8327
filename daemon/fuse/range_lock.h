// RangeLock: per-volume sector-range locks that make read-modify-write of
// partial sectors atomic with respect to other writes. Waiting is queueing:
// a conflicting request is parked and started by the thread that releases.
#pragma once

#include <cstdint>
#include <deque>
#include <mutex>
#include <vector>

namespace udm::daemon::volfs {

class RangeLock {
 public:
  // Embedded in the request that locks; must stay valid until Release().
  struct Holder {
    uint64_t begin = 0;  // first sector
    uint64_t end = 0;    // one past the last sector
    // Exclusive holders (read-modify-write) conflict with every overlapping
    // holder; shared ones (whole-sector writes) only with exclusive ones.
    bool exclusive = false;
    // Runs when a parked holder is granted, on the releasing thread.
    void (*granted)(Holder* h) = nullptr;
    void* owner = nullptr;  // the request, for `granted`
  };

  RangeLock() = default;
  RangeLock(const RangeLock&) = delete;
  RangeLock& operator=(const RangeLock&) = delete;

  // True if `h` holds the range now. Otherwise it is queued behind the
  // holders and earlier waiters it conflicts with (first come, first
  // served) and h->granted(h) runs once it holds the range.
  bool Acquire(Holder* h);
  // Drops `h`, which must hold its range, and starts every waiter that can
  // now run. Never call with a lock held that a granted callback may take.
  void Release(Holder* h);

 private:
  static bool Conflict(const Holder* a, const Holder* b) {
    return a->begin < b->end && b->begin < a->end && (a->exclusive || b->exclusive);
  }

  std::mutex mu_;  // a leaf: no other lock is taken while it is held
  std::vector<Holder*> held_;    // guarded by mu_
  std::deque<Holder*> waiting_;  // guarded by mu_; in arrival order
};

}  // namespace udm::daemon::volfs
