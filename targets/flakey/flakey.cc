// The flakey target. The up/down cycle is measured in whole seconds since
// the table was constructed (dm-flakey counts from table load). While up it
// is linear. While down: reads fail (error_reads) or pass and may be
// corrupted on completion; writes, discards and flushes are dropped
// (completed without reaching the device: drop_writes), failed
// (error_writes), or written with a corrupted copy of their payload (the
// submitter's buffer is never modified).
#include "flakey/flakey.h"

#include <fmt/core.h>

#include <chrono>
#include <memory>
#include <random>
#include <vector>

#include "flakey/flakey_features.h"
#include "target_args.h"
#include "udm/table.h"

namespace udm {
namespace {

using Clock = std::chrono::steady_clock;

// Marks a read clone that was mapped while down (the kernel keeps this in
// per-bio data); EndIo corrupts only such reads. Clones reach the target
// with private_data null and nobody below a target reads it.
char kMappedWhileDown;

bool Chance(uint32_t per_billion) {
  if (per_billion == 0) return false;
  thread_local std::mt19937_64 rng{std::random_device{}()};
  return rng() % kFlakeyProbabilityBase < per_billion;
}

// Overwrites payload byte `index` of `bio` with `value` (nothing if the
// payload is shorter), as dm-flakey's corrupt_bio_data.
void CorruptByte(const Bio& bio, uint64_t index, uint8_t value) {
  if (index < bio.bytes()) CopyToBio(bio, index, &value, 1);
}

void CorruptRandomByte(const Bio& bio) {
  if (bio.bytes() == 0) return;
  thread_local std::mt19937_64 rng{std::random_device{}()};
  CorruptByte(bio, rng() % bio.bytes(), static_cast<uint8_t>(rng()));
}

// A write whose payload goes down as a corrupted private copy.
struct CorruptedWrite {
  Bio child;
  iovec iov{};
  std::vector<uint8_t> data;
  Bio* clone = nullptr;

  static void EndIo(Bio* b, int status) {
    std::unique_ptr<CorruptedWrite> self(static_cast<CorruptedWrite*>(b->private_data));
    EndClone(self->clone, status);
  }
};

class FlakeyTarget : public Target {
 public:
  FlakeyTarget(std::shared_ptr<BlockDevice> dev, uint64_t offset, uint32_t up, uint32_t down,
               FlakeyFeatures features)
      : dev_(std::move(dev)), offset_(offset), up_(up), down_(down), f_(features),
        start_(Clock::now()) {}

  MapResult Map(Bio* bio) override {
    if (!IsDown()) return Remap(bio);
    if (bio->op == Op::kRead) {
      if (f_.error_reads) return MapResult::kKill;
      bio->private_data = &kMappedWhileDown;
      return Remap(bio);
    }
    // Writes, discards, write-zeroes and flushes: the kernel's WRITE direction.
    if (f_.drop_writes) {
      EndClone(bio, 0);
      return MapResult::kSubmitted;
    }
    if (f_.error_writes) return MapResult::kKill;
    if (bio->op == Op::kWrite) {
      const bool fixed = f_.corrupt_byte != 0 && f_.corrupt_writes && FlagsMatch(*bio);
      const bool random = Chance(f_.random_write_corrupt);
      if (fixed || random) {
        SubmitCorrupted(bio, fixed, random);
        return MapResult::kSubmitted;
      }
    }
    return Remap(bio);
  }

  EndIoResult EndIo(Bio* bio, int* status) override {
    if (bio->private_data != &kMappedWhileDown) return EndIoResult::kDone;
    bio->private_data = nullptr;
    if (*status != 0) return EndIoResult::kDone;
    if (f_.corrupt_byte != 0 && !f_.corrupt_writes && FlagsMatch(*bio)) {
      CorruptByte(*bio, f_.corrupt_byte - 1, f_.corrupt_value);
    }
    if (Chance(f_.random_read_corrupt)) CorruptRandomByte(*bio);
    return EndIoResult::kDone;
  }

  std::string StatusLine(StatusType type) const override {
    if (type == StatusType::kInfo) return {};
    return fmt::format("{} {} {} {}{}", dev_->name(), offset_, up_, down_,
                       FlakeyFeaturesText(f_));
  }

  void IterateDevices(const std::function<void(BlockDevice&)>& fn) const override { fn(*dev_); }

  uint32_t num_flush_bios() const override { return 1; }

 private:
  bool IsDown() const {
    const auto elapsed = std::chrono::duration_cast<std::chrono::seconds>(Clock::now() - start_);
    const uint64_t cycle = uint64_t{up_} + down_;
    return static_cast<uint64_t>(elapsed.count()) % cycle >= up_;
  }

  bool FlagsMatch(const Bio& bio) const {
    return (bio.flags & f_.corrupt_flags) == f_.corrupt_flags;
  }

  MapResult Remap(Bio* bio) const {
    bio->device = dev_.get();
    bio->sector = bio->op == Op::kFlush ? offset_ : offset_ + (bio->sector - begin());
    return MapResult::kRemapped;
  }

  void SubmitCorrupted(Bio* bio, bool fixed, bool random) {
    auto w = std::make_unique<CorruptedWrite>();
    w->clone = bio;
    w->data.resize(bio->bytes());
    CopyFromBio(*bio, 0, w->data.data(), w->data.size());
    w->iov = {w->data.data(), w->data.size()};
    w->child = *bio;
    w->child.iov = &w->iov;
    w->child.iov_count = 1;
    w->child.iov_offset = 0;
    w->child.end_io = &CorruptedWrite::EndIo;
    w->child.private_data = w.get();
    Remap(&w->child);
    if (fixed) CorruptByte(w->child, f_.corrupt_byte - 1, f_.corrupt_value);
    if (random) CorruptRandomByte(w->child);
    Bio* child = &w.release()->child;
    child->device->Submit(child);
  }

  const std::shared_ptr<BlockDevice> dev_;
  const uint64_t offset_;
  const uint32_t up_, down_;  // seconds
  const FlakeyFeatures f_;
  const Clock::time_point start_;  // table load: the cycle starts up
};

Result<std::unique_ptr<Target>> CreateFlakey(const TargetContext& ctx,
                                             std::span<const std::string> args) {
  if (args.size() < 4) {
    return InvalidArgument(
        "expected at least 4 arguments <dev> <offset> <up interval> <down interval> "
        "[<#features> <features>...], got {}",
        args.size());
  }
  auto offset = ParseU64(args[1], "offset");
  if (!offset) return std::unexpected(offset.error());
  auto up = ParseBounded(args[2], "up interval", 0, UINT32_MAX);
  if (!up) return std::unexpected(up.error());
  auto down = ParseBounded(args[3], "down interval", 0, UINT32_MAX);
  if (!down) return std::unexpected(down.error());
  if (*up + *down == 0) return InvalidArgument("total (up + down) interval is zero");
  if (*up + *down > UINT32_MAX) {
    return InvalidArgument("up interval + down interval overflows 32 bits ({} + {})", *up,
                           *down);
  }
  auto features = ParseFlakeyFeatures(args.subspan(4));
  if (!features) return std::unexpected(features.error());
  auto dev = ctx.GetDevice(args[0], *offset, ctx.length);
  if (!dev) return std::unexpected(dev.error());
  return std::make_unique<FlakeyTarget>(std::move(*dev), *offset, static_cast<uint32_t>(*up),
                                        static_cast<uint32_t>(*down), *features);
}

}  // namespace

constinit const TargetType kFlakeyTarget{"flakey", {1, 5, 0}, &CreateFlakey};

}  // namespace udm
