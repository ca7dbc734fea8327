// Helpers for engine tests: a request that owns its buffer and records its
// completion, and a mapped device built from table text.
#pragma once

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstring>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "udm/mapped_device.h"
#include "udm/table.h"
#include "udm/targets/builtin.h"

namespace udm::test {

class TestIo {
 public:
  TestIo() = default;
  // A completion may still be inside EndIo (notifying) when done() turns
  // true: wait for it before the mutex and condition variable go away.
  ~TestIo() { std::lock_guard<std::mutex> g(mu_); }
  static std::unique_ptr<TestIo> Write(uint64_t sector, uint64_t sectors, uint8_t fill,
                                       uint32_t flags = 0) {
    auto io = Make(Op::kWrite, sector, sectors, flags);
    std::memset(io->buf_.data(), fill, io->buf_.size());
    return io;
  }
  static std::unique_ptr<TestIo> Read(uint64_t sector, uint64_t sectors) {
    return Make(Op::kRead, sector, sectors, 0);
  }
  static std::unique_ptr<TestIo> Flush(uint32_t flags = 0) {
    return Make(Op::kFlush, 0, 0, flags);
  }
  static std::unique_ptr<TestIo> Make(Op op, uint64_t sector, uint64_t sectors, uint32_t flags) {
    auto io = std::make_unique<TestIo>();
    io->bio_.op = op;
    io->bio_.flags = flags;
    io->bio_.sector = sector;
    io->bio_.sectors = sectors;
    if (op == Op::kRead || op == Op::kWrite) {
      io->buf_.assign(sectors << kSectorShift, 0);
      io->iov_ = {io->buf_.data(), io->buf_.size()};
      io->bio_.iov = &io->iov_;
      io->bio_.iov_count = 1;
    }
    io->bio_.end_io = &TestIo::EndIo;
    io->bio_.private_data = io.get();
    return io;
  }

  Bio* bio() { return &bio_; }
  std::vector<uint8_t>& data() { return buf_; }
  bool done() const { return completions_.load() > 0; }
  int completions() const { return completions_.load(); }
  int status() const { return status_.load(); }
  // The thread that completed it (valid once done()).
  std::thread::id completer() {
    std::lock_guard<std::mutex> g(mu_);
    return completer_;
  }
  // Waits for completion; false on timeout.
  bool Wait(int timeout_ms = 5000) {
    std::unique_lock<std::mutex> l(mu_);
    return cv_.wait_for(l, std::chrono::milliseconds(timeout_ms), [&] { return done(); });
  }

 private:
  static void EndIo(Bio* b, int status) {
    auto* self = static_cast<TestIo*>(b->private_data);
    self->status_.store(status);
    std::lock_guard<std::mutex> g(self->mu_);
    self->completer_ = std::this_thread::get_id();
    self->completions_.fetch_add(1);
    self->cv_.notify_all();
  }

  Bio bio_;
  iovec iov_{};
  std::vector<uint8_t> buf_;
  std::atomic<int> completions_{0};
  std::atomic<int> status_{1};
  std::thread::id completer_;  // guarded by mu_
  std::mutex mu_;
  std::condition_variable cv_;
};

// Builds a device, loads `table` (which must be valid) and resumes it.
inline std::unique_ptr<MappedDevice> MakeDevice(const std::string& table, DeviceResolver& resolver,
                                                BarrierMode mode = BarrierMode::kFlush,
                                                const TargetRegistry& registry = BuiltinTargets()) {
  auto md = std::make_unique<MappedDevice>(MappedDeviceOptions{"test", false, mode});
  TableOptions opts;
  opts.resolver = &resolver;
  MappedDevice* raw = md.get();
  opts.raise_event = [raw] { raw->RaiseEvent(); };
  auto t = Table::FromText(table, registry, opts);
  if (!t) return nullptr;
  if (!md->Load(std::move(*t))) return nullptr;
  if (!md->Resume()) return nullptr;
  return md;
}

}  // namespace udm::test
