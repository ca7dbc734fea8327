// Backends that are not files: an in-memory device (tests, examples) and a
// null device that completes every request at once without touching data
// (like the kernel's null_blk; for benchmarks).
#pragma once

#include <cstdint>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "udm/block_device.h"

namespace udm {

// A RAM disk. Requests complete inside Submit(). Thread-safe; each request
// is applied atomically with respect to the others.
class MemoryBackend : public BlockDevice {
 public:
  MemoryBackend(std::string name, uint64_t sectors);

  void Submit(Bio* bio) override;
  uint64_t sectors() const override { return sectors_; }
  const std::string& name() const override { return name_; }
  std::string mode() const override { return "memory"; }

  // Direct access for tests: copies of the current contents.
  std::vector<uint8_t> Read(uint64_t sector, uint64_t count) const;
  void Write(uint64_t sector, const std::vector<uint8_t>& data);

 private:
  const std::string name_;
  const uint64_t sectors_;
  mutable std::mutex mu_;
  std::vector<uint8_t> data_;  // guarded by mu_
};

class NullBackend : public BlockDevice {
 public:
  NullBackend(std::string name, uint64_t sectors) : name_(std::move(name)), sectors_(sectors) {}

  void Submit(Bio* bio) override { bio->Complete(0); }
  uint64_t sectors() const override { return sectors_; }
  const std::string& name() const override { return name_; }
  std::string mode() const override { return "null"; }

 private:
  const std::string name_;
  const uint64_t sectors_;
};

}  // namespace udm
