// The striped target: chunk n of the range goes to stripe n % #stripes, at
// chunk n / #stripes of that stripe. A port of the kernel's dm-stripe.c,
// including its per-stripe error accounting in the info status.
#include "striped/striped.h"

#include <atomic>
#include <bit>
#include <vector>

#include <fmt/core.h>

#include "udm/check.h"
#include "udm/table.h"

namespace udm {
namespace {

// Errors a stripe reports before it stops raising events (as dm-stripe).
constexpr uint32_t kIoErrorThreshold = 15;

struct Stripe {
  std::shared_ptr<BlockDevice> dev;
  uint64_t offset = 0;                  // first sector of the stripe on dev
  std::atomic<uint32_t> errors{0};      // failed clones; any thread
};

class StripedTarget : public Target {
 public:
  // `stripes` holds at least one stripe; `chunk_sectors` is a power of two.
  StripedTarget(std::vector<Stripe> stripes, uint64_t chunk_sectors, uint64_t width,
                std::function<void()> raise_event)
      : stripes_(std::move(stripes)),
        chunk_sectors_(chunk_sectors),
        chunk_shift_(static_cast<unsigned>(std::countr_zero(chunk_sectors))),
        width_(width),
        raise_event_(std::move(raise_event)) {}

  MapResult Map(Bio* bio) override {
    if (bio->op == Op::kFlush) {
      UDM_CHECK(bio->target_bio_nr < stripes_.size());
      const Stripe& s = stripes_[bio->target_bio_nr];
      bio->device = s.dev.get();
      bio->sector = s.offset;
      return MapResult::kRemapped;
    }
    const uint64_t offset = bio->sector - begin();
    const uint64_t in_chunk = offset & (chunk_sectors_ - 1);
    UDM_CHECK(in_chunk + bio->sectors <= chunk_sectors_);  // max_io_len() split it
    const uint64_t chunk = offset >> chunk_shift_;
    const Stripe& s = stripes_[chunk % stripes_.size()];
    bio->device = s.dev.get();
    bio->sector = s.offset + ((chunk / stripes_.size()) << chunk_shift_) + in_chunk;
    return MapResult::kRemapped;
  }

  // Counts a failed clone against its stripe (shown as 'D' in the status).
  EndIoResult EndIo(Bio* bio, int* status) override {
    if (*status == 0 || *status == -EOPNOTSUPP) return EndIoResult::kDone;
    Stripe* s = FindStripe(*bio);
    if (s != nullptr && s->errors.fetch_add(1) + 1 < kIoErrorThreshold && raise_event_) {
      raise_event_();
    }
    return EndIoResult::kDone;
  }

  std::string StatusLine(StatusType type) const override {
    std::string out = fmt::format("{}", stripes_.size());
    if (type == StatusType::kTable) {
      out += fmt::format(" {}", chunk_sectors_);
      for (const Stripe& s : stripes_) out += fmt::format(" {} {}", s.dev->name(), s.offset);
      return out;
    }
    for (const Stripe& s : stripes_) out += " " + s.dev->name();
    out += " 1 ";
    for (const Stripe& s : stripes_) out += s.errors.load() != 0 ? 'D' : 'A';
    return out;
  }

  void IterateDevices(const std::function<void(BlockDevice&)>& fn) const override {
    for (const Stripe& s : stripes_) fn(*s.dev);
  }

  uint64_t max_io_len() const override { return chunk_sectors_; }
  uint32_t num_flush_bios() const override { return static_cast<uint32_t>(stripes_.size()); }

 private:
  // The stripe a finished clone went to: by flush number, else by device
  // and the sector range the stripe occupies on it.
  Stripe* FindStripe(const Bio& bio) {
    if (bio.op == Op::kFlush) {
      return bio.target_bio_nr < stripes_.size() ? &stripes_[bio.target_bio_nr] : nullptr;
    }
    Stripe* same_device = nullptr;
    for (Stripe& s : stripes_) {
      if (s.dev.get() != bio.device) continue;
      if (bio.sector >= s.offset && bio.sector - s.offset < width_) return &s;
      if (same_device == nullptr) same_device = &s;
    }
    return same_device;
  }

  std::vector<Stripe> stripes_;
  const uint64_t chunk_sectors_;
  const unsigned chunk_shift_;  // log2(chunk_sectors_)
  const uint64_t width_;        // sectors per stripe: length() / #stripes
  const std::function<void()> raise_event_;
};

// Argument checks follow dm-stripe, with one difference: the chunk size must
// be a power of two (the kernel has accepted any nonzero size since 3.6).
// Power-of-two chunks keep mapping to shifts and masks and line up with
// every power-of-two block size; like the kernel, there is no minimum.
Result<std::unique_ptr<Target>> CreateStriped(const TargetContext& ctx,
                                              std::span<const std::string> args) {
  if (args.size() < 2) {
    return InvalidArgument(
        "expected <#stripes> <chunk size> [<dev> <offset>]..., got {} argument(s)", args.size());
  }
  auto count = ParseU64(args[0], "#stripes");
  if (!count) return std::unexpected(count.error());
  if (*count == 0) return InvalidArgument("#stripes: must be at least 1, got 0");
  auto chunk = ParseU64(args[1], "chunk size");
  if (!chunk) return std::unexpected(chunk.error());
  if (*chunk == 0) return InvalidArgument("chunk size: must be greater than 0 sectors");
  if (!std::has_single_bit(*chunk)) {
    return InvalidArgument("chunk size: {} sectors is not a power of two", *chunk);
  }
  const uint64_t pairs = (args.size() - 2) / 2;
  if (pairs < *count) {
    return InvalidArgument("not enough destinations specified: #stripes is {} but {} given",
                           *count, pairs);
  }
  if (pairs > *count || (args.size() - 2) % 2 != 0) {
    return InvalidArgument(
        "too many arguments: #stripes is {}, expected {} <dev> <offset> arguments, got {}", *count,
        2 * *count, args.size() - 2);
  }
  if (ctx.length % *count != 0) {
    return InvalidArgument("length: {} sectors is not divisible by #stripes {}", ctx.length,
                           *count);
  }
  const uint64_t width = ctx.length / *count;
  if (width % *chunk != 0) {
    return InvalidArgument(
        "length: {} sectors per stripe ({} / {} stripes) is not divisible by chunk size {}",
        width, ctx.length, *count, *chunk);
  }

  std::vector<Stripe> stripes(*count);
  for (uint64_t i = 0; i < *count; ++i) {
    const std::string& dev_arg = args[2 + 2 * i];
    auto offset = ParseU64(args[3 + 2 * i], fmt::format("stripe {} offset", i));
    if (!offset) return std::unexpected(offset.error());
    auto dev = ctx.GetDevice(dev_arg, *offset, width);
    if (!dev) return std::unexpected(dev.error().Prefixed(fmt::format("stripe {}", i)));
    stripes[i].dev = std::move(*dev);
    stripes[i].offset = *offset;
  }
  return std::make_unique<StripedTarget>(std::move(stripes), *chunk, width, ctx.raise_event);
}

}  // namespace

constinit const TargetType kStripedTarget{"striped", {1, 6, 0}, &CreateStriped};

}  // namespace udm
