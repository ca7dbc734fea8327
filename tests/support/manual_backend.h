// ManualBackend: a device whose requests are held until the test releases
// them, one by one or by predicate, so that every interleaving of barriers
// and ordinary I/O can be forced. Data lives in memory and is applied when
// a request is released.
#pragma once

#include <condition_variable>
#include <cstdint>
#include <functional>
#include <mutex>
#include <string>
#include <vector>

#include "udm/backends.h"
#include "udm/block_device.h"

namespace udm::test {

// What the device saw, in submission order.
struct SeenIo {
  uint64_t id = 0;  // 0, 1, 2, ... in submission order
  Op op = Op::kRead;
  uint32_t flags = 0;
  uint64_t sector = 0;
  uint64_t sectors = 0;
  uint8_t first_byte = 0;  // writes: the first payload byte, to tell them apart
};

class ManualBackend : public BlockDevice {
 public:
  ManualBackend(std::string name, uint64_t sectors);

  void Submit(Bio* bio) override;
  uint64_t sectors() const override { return memory_.sectors(); }
  const std::string& name() const override { return memory_.name(); }

  // When set, requests complete at once (still recorded).
  void SetPassThrough(bool on);

  std::vector<SeenIo> Seen() const;   // everything ever submitted
  std::vector<SeenIo> Held() const;   // submitted, not yet released
  // Waits until at least `n` requests are held; false on timeout.
  bool WaitHeld(size_t n, int timeout_ms = 5000) const;
  // Waits until `n` requests have been submitted in total.
  bool WaitSeen(size_t n, int timeout_ms = 5000) const;

  // Releases the held request with this id, completing it with `status`.
  // Returns false if it is not held.
  bool Release(uint64_t id, int status = 0);
  // Releases every held request matching `pred` (in submission order) and
  // returns how many.
  size_t ReleaseIf(const std::function<bool(const SeenIo&)>& pred, int status = 0);
  size_t ReleaseAll(int status = 0);

  MemoryBackend& memory() { return memory_; }

 private:
  struct HeldIo {
    SeenIo seen;
    Bio* bio;
  };
  void Execute(Bio* bio, int status);

  MemoryBackend memory_;
  mutable std::mutex mu_;
  mutable std::condition_variable cv_;
  bool pass_through_ = false;     // guarded by mu_
  std::vector<SeenIo> seen_;      // guarded by mu_
  std::vector<HeldIo> held_;        // guarded by mu_
};

}  // namespace udm::test
