// PowerCutBackend: a device with a volatile write cache. Requests complete
// asynchronously, in random order, on the device's own thread. A completed
// write is durable only once a flush submitted after it completed has
// completed. PowerCut() returns what could be on the medium after power is
// lost: the durable image plus any subset of the unflushed writes.
#pragma once

#include <condition_variable>
#include <cstdint>
#include <mutex>
#include <random>
#include <string>
#include <thread>
#include <vector>

#include "udm/block_device.h"

namespace udm::test {

class PowerCutBackend : public BlockDevice {
 public:
  PowerCutBackend(std::string name, uint64_t sectors, uint32_t seed);
  ~PowerCutBackend() override;  // completes nothing still queued: drain first

  void Submit(Bio* bio) override;
  uint64_t sectors() const override { return sectors_; }
  const std::string& name() const override { return name_; }

  // Cuts the power of all `devices` at the same instant: from then on
  // their requests fail with -EIO and change nothing. Returns a possible
  // medium image per device: durable data plus a random subset of the
  // unflushed writes.
  static std::vector<std::vector<uint8_t>> PowerCut(const std::vector<PowerCutBackend*>& devices,
                                                    std::mt19937& rng);
  // Requests submitted and not yet completed.
  size_t queued() const;

 private:
  struct Pending {
    Bio* bio;
    uint64_t covers = 0;  // flushes: writes with seq < covers are covered
  };
  struct CachedWrite {
    uint64_t seq;  // completion order
    uint64_t offset;
    std::vector<uint8_t> data;
  };
  void Run();
  void Execute(Pending p);
  std::vector<uint8_t> CutLocked(std::mt19937& rng);  // mu_ held

  const std::string name_;
  const uint64_t sectors_;
  mutable std::mutex mu_;
  std::condition_variable cv_;
  std::mt19937 rng_;                  // guarded by mu_
  std::vector<Pending> queue_;        // guarded by mu_
  std::vector<uint8_t> current_;      // guarded by mu_; what reads see
  std::vector<uint8_t> durable_;      // guarded by mu_; what survives power loss
  std::vector<CachedWrite> cache_;    // guarded by mu_; completed, not yet durable
  uint64_t completed_writes_ = 0;     // guarded by mu_
  bool dead_ = false;                 // guarded by mu_
  bool stop_ = false;                 // guarded by mu_
  std::thread thread_;
};

}  // namespace udm::test
