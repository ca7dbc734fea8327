// RangeLock: a short list of holders and a FIFO of waiters, both scanned
// linearly (their length is bounded by the requests in flight on a volume).
#include "fuse/range_lock.h"

#include <algorithm>

#include "udm/check.h"

namespace udm::daemon::volfs {

bool RangeLock::Acquire(Holder* h) {
  UDM_CHECK(h->begin < h->end && h->granted != nullptr);
  std::lock_guard<std::mutex> g(mu_);
  auto conflicts = [h](const Holder* other) { return Conflict(h, other); };
  if (std::ranges::any_of(held_, conflicts) || std::ranges::any_of(waiting_, conflicts)) {
    waiting_.push_back(h);
    return false;
  }
  held_.push_back(h);
  return true;
}

void RangeLock::Release(Holder* h) {
  std::vector<Holder*> ready;
  {
    std::lock_guard<std::mutex> g(mu_);
    auto it = std::ranges::find(held_, h);
    UDM_CHECK(it != held_.end());
    *it = held_.back();
    held_.pop_back();
    for (auto w = waiting_.begin(); w != waiting_.end();) {
      auto conflicts = [&](const Holder* other) { return Conflict(*w, other); };
      if (std::ranges::any_of(held_, conflicts) ||
          std::any_of(waiting_.begin(), w, conflicts)) {
        ++w;
        continue;
      }
      held_.push_back(*w);
      ready.push_back(*w);
      w = waiting_.erase(w);
    }
  }
  for (Holder* r : ready) r->granted(r);
}

}  // namespace udm::daemon::volfs
