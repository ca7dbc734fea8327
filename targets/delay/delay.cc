// The delay target. Each class of request (read, write, flush) has its own
// device, offset and delay. A delayed request is remapped at once, parked in
// its class's FIFO with a deadline and returned to the engine as kSubmitted;
// one timer thread per target submits it to its device when the deadline
// passes. Nothing ever sleeps in Map(), so other requests and other volumes
// are never held up. PreSuspend submits everything still parked (the kernel
// flushes its delayed list on presuspend) and stops delaying until Resume.
#include "delay/delay.h"

#include <fmt/core.h>

#include <algorithm>
#include <array>
#include <chrono>
#include <condition_variable>
#include <deque>
#include <mutex>
#include <optional>
#include <thread>
#include <vector>

#include "target_args.h"
#include "udm/table.h"

namespace udm {
namespace {

using Clock = std::chrono::steady_clock;

// Where one class of requests goes and how long it waits first.
struct DelayClass {
  std::shared_ptr<BlockDevice> dev;
  uint64_t offset = 0;     // sector on dev that begin() maps to
  uint32_t delay_ms = 0;   // 0: never held
};

enum ClassIndex : size_t { kReadClass = 0, kWriteClass = 1, kFlushClass = 2 };

class DelayTarget : public Target {
 public:
  DelayTarget(std::array<DelayClass, 3> classes, size_t argc)
      : classes_(std::move(classes)), argc_(argc) {
    for (const DelayClass& c : classes_) {
      if (c.delay_ms != 0) {
        worker_ = std::thread([this] { WorkerLoop(); });
        break;
      }
    }
  }

  ~DelayTarget() override {
    {
      std::lock_guard<std::mutex> g(mu_);
      stop_ = true;
    }
    cv_.notify_all();
    if (worker_.joinable()) worker_.join();
    // A table is destroyed suspended, so nothing should be parked; if
    // something is, it still must complete exactly once.
    SubmitAll(TakeParked(/*all=*/true));
  }

  MapResult Map(Bio* bio) override {
    const size_t k = ClassOf(*bio);
    const DelayClass& c = classes_[k];
    bio->device = c.dev.get();
    bio->sector = bio->op == Op::kFlush ? c.offset : c.offset + (bio->sector - begin());
    if (c.delay_ms == 0) return MapResult::kRemapped;
    {
      std::lock_guard<std::mutex> g(mu_);
      if (!may_delay_) return MapResult::kRemapped;
      parked_[k].push_back({bio, Clock::now() + std::chrono::milliseconds(c.delay_ms)});
    }
    cv_.notify_one();
    return MapResult::kSubmitted;
  }

  void PreSuspend() override {
    {
      std::lock_guard<std::mutex> g(mu_);
      may_delay_ = false;
    }
    SubmitAll(TakeParked(/*all=*/true));
  }

  void Resume() override {
    std::lock_guard<std::mutex> g(mu_);
    may_delay_ = true;
  }

  std::string StatusLine(StatusType type) const override {
    if (type == StatusType::kInfo) {
      std::lock_guard<std::mutex> g(mu_);
      return fmt::format("{} {} {}", parked_[kReadClass].size(), parked_[kWriteClass].size(),
                         parked_[kFlushClass].size());
    }
    std::string out = ClassText(classes_[kReadClass]);
    if (argc_ >= 6) out += " " + ClassText(classes_[kWriteClass]);
    if (argc_ >= 9) out += " " + ClassText(classes_[kFlushClass]);
    return out;
  }

  void IterateDevices(const std::function<void(BlockDevice&)>& fn) const override {
    for (const DelayClass& c : classes_) fn(*c.dev);
  }

  uint32_t num_flush_bios() const override { return 1; }

 private:
  struct Parked {
    Bio* bio;
    Clock::time_point due;
  };

  // Like dm-delay: flushes (empty or not) are the flush class, everything
  // else that changes data is a write, reads are reads.
  static size_t ClassOf(const Bio& bio) {
    if (bio.op == Op::kFlush || (bio.flags & kPreflush)) return kFlushClass;
    return bio.op == Op::kRead ? kReadClass : kWriteClass;
  }

  static std::string ClassText(const DelayClass& c) {
    return fmt::format("{} {} {}", c.dev->name(), c.offset, c.delay_ms);
  }

  // Removes the parked requests that are due (or all of them), ordered by
  // deadline so that equal-delay classes keep submission order.
  std::vector<Bio*> TakeParked(bool all) {
    std::vector<Parked> taken;
    {
      std::lock_guard<std::mutex> g(mu_);
      const Clock::time_point now = Clock::now();
      for (auto& q : parked_) {
        while (!q.empty() && (all || q.front().due <= now)) {
          taken.push_back(q.front());
          q.pop_front();
        }
      }
    }
    std::stable_sort(taken.begin(), taken.end(),
                     [](const Parked& a, const Parked& b) { return a.due < b.due; });
    std::vector<Bio*> bios;
    bios.reserve(taken.size());
    for (const Parked& p : taken) bios.push_back(p.bio);
    return bios;
  }

  static void SubmitAll(const std::vector<Bio*>& bios) {
    for (Bio* b : bios) b->device->Submit(b);
  }

  void WorkerLoop() {
    std::unique_lock<std::mutex> l(mu_);
    while (!stop_) {
      std::optional<Clock::time_point> next;
      for (const auto& q : parked_) {
        if (!q.empty() && (!next || q.front().due < *next)) next = q.front().due;
      }
      if (!next) {
        cv_.wait(l);
        continue;
      }
      if (Clock::now() < *next) {
        cv_.wait_until(l, *next);
        continue;
      }
      l.unlock();
      SubmitAll(TakeParked(/*all=*/false));
      l.lock();
    }
  }

  const std::array<DelayClass, 3> classes_;
  const size_t argc_;  // 3, 6 or 9: how the table line was written

  mutable std::mutex mu_;
  std::condition_variable cv_;
  // State below is guarded by mu_. Each FIFO is ordered by deadline because
  // its class has one fixed delay.
  std::array<std::deque<Parked>, 3> parked_;
  bool may_delay_ = true;
  bool stop_ = false;

  std::thread worker_;  // last: started once everything above exists
};

Result<DelayClass> ParseClass(const TargetContext& ctx, std::span<const std::string> args,
                              std::string_view what) {
  DelayClass c;
  auto offset = ParseU64(args[1], fmt::format("{} offset", what));
  if (!offset) return std::unexpected(offset.error());
  auto delay = ParseBounded(args[2], fmt::format("{} delay (ms)", what), 0, UINT32_MAX);
  if (!delay) return std::unexpected(delay.error());
  auto dev = ctx.GetDevice(args[0], *offset, ctx.length);
  if (!dev) return std::unexpected(dev.error().Prefixed(fmt::format("{} device", what)));
  c.dev = std::move(*dev);
  c.offset = *offset;
  c.delay_ms = static_cast<uint32_t>(*delay);
  return c;
}

Result<std::unique_ptr<Target>> CreateDelay(const TargetContext& ctx,
                                            std::span<const std::string> args) {
  if (args.size() != 3 && args.size() != 6 && args.size() != 9) {
    return InvalidArgument(
        "expected 3, 6 or 9 arguments <dev> <offset> <delay> [<write dev> <write offset> "
        "<write delay> [<flush dev> <flush offset> <flush delay>]], got {}",
        args.size());
  }
  std::array<DelayClass, 3> classes;
  auto read = ParseClass(ctx, args.subspan(0, 3), "read");
  if (!read) return std::unexpected(read.error());
  classes[kReadClass] = *read;
  if (args.size() == 3) {
    classes[kWriteClass] = classes[kFlushClass] = *read;
  } else {
    auto write = ParseClass(ctx, args.subspan(3, 3), "write");
    if (!write) return std::unexpected(write.error());
    classes[kWriteClass] = *write;
    if (args.size() == 6) {
      classes[kFlushClass] = *write;
    } else {
      auto flush = ParseClass(ctx, args.subspan(6, 3), "flush");
      if (!flush) return std::unexpected(flush.error());
      classes[kFlushClass] = *flush;
    }
  }
  return std::make_unique<DelayTarget>(std::move(classes), args.size());
}

}  // namespace

constinit const TargetType kDelayTarget{"delay", {1, 3, 0}, &CreateDelay};

}  // namespace udm
