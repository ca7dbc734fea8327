// The dust target. Block numbers count <blksz>-byte blocks of the
// underlying device (from its sector 0, as dm-dust computes them from the
// remapped sector); requests are split at block boundaries so each clone
// touches one block. The bad block list lives in memory only: a new table
// starts with an empty list, disabled, exactly like the kernel.
#include "dust/dust.h"

#include <fmt/core.h>

#include <bit>
#include <map>
#include <mutex>

#include "target_args.h"
#include "udm/table.h"

namespace udm {
namespace {

constexpr uint64_t kMaxBlockBytes = 1ull << 30;

class DustTarget : public Target {
 public:
  DustTarget(std::shared_ptr<BlockDevice> dev, uint64_t offset, uint32_t block_bytes)
      : dev_(std::move(dev)), offset_(offset), block_bytes_(block_bytes),
        block_shift_(static_cast<unsigned>(std::countr_zero(block_bytes >> kSectorShift))) {}

  MapResult Map(Bio* bio) override {
    bio->device = dev_.get();
    if (bio->op == Op::kFlush) {
      bio->sector = offset_;
      return MapResult::kRemapped;
    }
    bio->sector = offset_ + (bio->sector - begin());
    const uint64_t block = bio->sector >> block_shift_;
    std::lock_guard<std::mutex> g(mu_);
    if (!enabled_) return MapResult::kRemapped;
    auto it = bad_.find(block);
    if (it == bad_.end()) return MapResult::kRemapped;
    if (bio->op == Op::kRead) return MapResult::kKill;
    // A write-like request (write, discard, write-zeroes) to a bad block:
    // fail it while its write-fail count lasts, then let it repair the block.
    if (it->second > 0) {
      --it->second;
      return MapResult::kKill;
    }
    bad_.erase(it);
    return MapResult::kRemapped;
  }

  std::string StatusLine(StatusType type) const override {
    if (type == StatusType::kTable) {
      return fmt::format("{} {} {}", dev_->name(), offset_, block_bytes_);
    }
    std::lock_guard<std::mutex> g(mu_);
    return fmt::format("{} {} {}", dev_->name(), enabled_ ? "fail_read_on_bad_block" : "bypass",
                       quiet_ ? "quiet" : "verbose");
  }

  Status Message(std::span<const std::string> args, std::string* reply) override {
    if (args.empty()) return InvalidArgument("missing message");
    const std::string& verb = args[0];
    if (args.size() == 1) return SimpleMessage(verb, reply);
    if (!EqualsIgnoreCase(verb, "addbadblock") && !EqualsIgnoreCase(verb, "removebadblock") &&
        !EqualsIgnoreCase(verb, "queryblock")) {
      return Unrecognised(verb);
    }
    if (args.size() > 3 || (args.size() == 3 && !EqualsIgnoreCase(verb, "addbadblock"))) {
      return InvalidArgument("{}: invalid number of arguments '{}'", verb, args.size());
    }
    auto block = ParseU64(args[1], "block");
    if (!block) return std::unexpected(block.error());
    const uint64_t blocks = dev_->sectors() >> block_shift_;
    if (*block >= blocks) {
      return InvalidArgument("selected block value {} out of range (device has {} blocks)",
                             *block, blocks);
    }
    uint8_t write_fails = 0;
    if (args.size() == 3) {
      auto n = ParseBounded(args[2], "write fail count", 0, 255);
      if (!n) return std::unexpected(n.error());
      write_fails = static_cast<uint8_t>(*n);
    }
    std::lock_guard<std::mutex> g(mu_);
    if (EqualsIgnoreCase(verb, "addbadblock")) {
      if (!bad_.emplace(*block, write_fails).second) {
        return InvalidArgument("block {} already in badblocklist", *block);
      }
    } else if (EqualsIgnoreCase(verb, "removebadblock")) {
      if (bad_.erase(*block) == 0) {
        return InvalidArgument("block {} not found in badblocklist", *block);
      }
    } else {
      *reply = fmt::format("dust_query_block: block {} {} in badblocklist", *block,
                           bad_.contains(*block) ? "found" : "not found");
    }
    return {};
  }

  void IterateDevices(const std::function<void(BlockDevice&)>& fn) const override { fn(*dev_); }

  uint64_t max_io_len() const override { return uint64_t{block_bytes_} >> kSectorShift; }
  uint32_t num_flush_bios() const override { return 1; }

 private:
  // The one-word messages.
  Status SimpleMessage(const std::string& verb, std::string* reply) {
    std::lock_guard<std::mutex> g(mu_);
    if (EqualsIgnoreCase(verb, "addbadblock") || EqualsIgnoreCase(verb, "removebadblock") ||
        EqualsIgnoreCase(verb, "queryblock")) {
      return InvalidArgument("{} requires an additional argument", verb);
    } else if (EqualsIgnoreCase(verb, "enable")) {
      enabled_ = true;
    } else if (EqualsIgnoreCase(verb, "disable")) {
      enabled_ = false;
    } else if (EqualsIgnoreCase(verb, "quiet")) {
      quiet_ = !quiet_;
    } else if (EqualsIgnoreCase(verb, "countbadblocks")) {
      *reply = fmt::format("countbadblocks: {} badblock(s) found", bad_.size());
    } else if (EqualsIgnoreCase(verb, "clearbadblocks")) {
      *reply = bad_.empty() ? "dust_clear_badblocks: no badblocks found"
                            : "dust_clear_badblocks: badblocks cleared";
      bad_.clear();
    } else if (EqualsIgnoreCase(verb, "listbadblocks")) {
      if (bad_.empty()) *reply = "No blocks in badblocklist";
      for (const auto& [block, fails] : bad_) *reply += fmt::format("{}\n", block);
    } else {
      return Unrecognised(verb);
    }
    return {};
  }

  static Status Unrecognised(const std::string& verb) {
    return InvalidArgument(
        "unrecognized message '{}' received (known: addbadblock, removebadblock, queryblock, "
        "countbadblocks, clearbadblocks, listbadblocks, enable, disable, quiet)",
        verb);
  }

  const std::shared_ptr<BlockDevice> dev_;
  const uint64_t offset_;
  const uint32_t block_bytes_;
  const unsigned block_shift_;  // log2(sectors per block)

  mutable std::mutex mu_;
  // State below is guarded by mu_.
  std::map<uint64_t, uint8_t> bad_;  // block -> writes still to fail before it heals
  bool enabled_ = false;             // fail_read_on_bad_block; off until "enable"
  bool quiet_ = false;  // dm-dust's quiet mode: only shown in status (udm logs nothing per block)
};

Result<std::unique_ptr<Target>> CreateDust(const TargetContext& ctx,
                                           std::span<const std::string> args) {
  if (args.size() != 3) {
    return InvalidArgument("expected 3 arguments <dev> <offset> <blksz>, got {}", args.size());
  }
  auto block_bytes = ParseBounded(args[2], "blksz", 512, kMaxBlockBytes);
  if (!block_bytes) return std::unexpected(block_bytes.error());
  if (!std::has_single_bit(*block_bytes)) {
    return InvalidArgument("blksz: {} is not a power of 2", *block_bytes);
  }
  if ((*block_bytes >> kSectorShift) > ctx.length) {
    return InvalidArgument("blksz: {} bytes is larger than the target ({} sectors)", *block_bytes,
                           ctx.length);
  }
  auto offset = ParseU64(args[1], "offset");
  if (!offset) return std::unexpected(offset.error());
  auto dev = ctx.GetDevice(args[0], *offset, ctx.length);
  if (!dev) return std::unexpected(dev.error());
  return std::make_unique<DustTarget>(std::move(*dev), *offset,
                                      static_cast<uint32_t>(*block_bytes));
}

}  // namespace

constinit const TargetType kDustTarget{"dust", {1, 0, 0}, &CreateDust};

}  // namespace udm
