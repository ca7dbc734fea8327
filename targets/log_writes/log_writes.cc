// The log-writes target ("<dev> <log_dev>"): passes all I/O to <dev> and
// logs every write to <log_dev> in the kernel's dm-log-writes format, in
// the order the data reached stable storage: a write is logged when the
// flush that covers it (one submitted after it completed) completes; a FUA
// write when it completes. Unlike the kernel, a flush or FUA completes only
// once its entries are on the log device, so after fsync the log is
// complete up to that point and can be read while the volume stays live.
#include "log_writes/log_writes.h"

#include <fmt/core.h>
#include <strings.h>

#include <map>
#include <unordered_map>

#include "log_writes/log_writer.h"
#include "udm/targets/log_writes_format.h"

namespace udm {
namespace {

// Which target last started logging to each log device. A reloaded table
// starts a new log on the same device; the table it replaced must then not
// append its final entries to the new log.
class LogOwners {
 public:
  static LogOwners& Get() {
    static LogOwners owners;
    return owners;
  }
  void Claim(const std::string& log, const void* owner) {
    std::lock_guard<std::mutex> g(mu_);
    owners_[log] = owner;
  }
  // True if `owner` held the log; it no longer does.
  bool Release(const std::string& log, const void* owner) {
    std::lock_guard<std::mutex> g(mu_);
    auto it = owners_.find(log);
    if (it == owners_.end() || it->second != owner) return false;
    owners_.erase(it);
    return true;
  }

 private:
  std::mutex mu_;
  std::map<std::string, const void*> owners_;  // guarded by mu_
};

class LogWritesTarget : public Target {
 public:
  LogWritesTarget(std::shared_ptr<BlockDevice> dev, std::shared_ptr<BlockDevice> log)
      : dev_(std::move(dev)), log_(std::move(log)), writer_(log_) {}

  // Like the kernel's destructor: what is still unflushed is logged, then
  // the "dm-log-writes-end" mark, and the super counts it all.
  ~LogWritesTarget() override {
    if (!LogOwners::Get().Release(log_->name(), this)) return;  // never live, or replaced
    std::vector<std::unique_ptr<PendingBlock>> rest;
    {
      std::lock_guard<std::mutex> g(mu_);
      rest = std::move(unflushed_);
    }
    rest.push_back(MakeMark("dm-log-writes-end"));
    writer_.Queue(std::move(rest));
    writer_.Drain();
  }

  MapResult Map(Bio* bio) override {
    bio->device = dev_.get();
    const bool flush = bio->op == Op::kFlush;
    bio->sector = flush ? 0 : bio->sector - begin();
    if (bio->op == Op::kRead || (!flush && bio->sectors == 0)) return MapResult::kRemapped;

    auto block = std::make_unique<PendingBlock>();
    block->sector = bio->sector;
    block->nr_sectors = bio->sectors;
    if (flush) block->flags |= logwrites::kFlagFlush;
    if (bio->flags & kFua) block->flags |= logwrites::kFlagFua;
    if (bio->op == Op::kDiscard) block->flags |= logwrites::kFlagDiscard;
    if (bio->op == Op::kWrite) {
      // Copied now: the submitter may reuse its buffer once the write is done.
      block->data.resize(bio->bytes());
      CopyFromBio(*bio, 0, block->data.data(), bio->bytes());
    } else if (bio->op == Op::kWriteZeroes) {
      // Logged as a write of zeros so that replay reproduces it exactly.
      block->data.assign(bio->bytes(), 0);
    }
    std::lock_guard<std::mutex> g(mu_);
    Tracked& t = tracked_[bio];
    if (flush) t.covered = std::move(unflushed_);  // what completed before this flush
    t.block = std::move(block);
    return MapResult::kRemapped;
  }

  EndIoResult EndIo(Bio* bio, int* status) override {
    if (bio->op == Op::kRead) return EndIoResult::kDone;
    std::unique_lock<std::mutex> l(mu_);
    auto it = tracked_.find(bio);
    if (it == tracked_.end()) return EndIoResult::kDone;  // not logged (empty write)
    Tracked t = std::move(it->second);
    tracked_.erase(it);
    const uint64_t flags = t.block->flags;
    if (*status != 0) {
      // A failed write never reached the disk; a failed flush covered nothing.
      if (flags & logwrites::kFlagFlush) {
        for (auto& b : unflushed_) t.covered.push_back(std::move(b));
        unflushed_ = std::move(t.covered);
      }
      return EndIoResult::kDone;
    }
    if (!(flags & (logwrites::kFlagFlush | logwrites::kFlagFua))) {
      unflushed_.push_back(std::move(t.block));
      return EndIoResult::kDone;
    }
    l.unlock();
    if (!writer_.enabled()) return EndIoResult::kDone;
    // The flush or FUA completes once its entries are logged.
    const int result = *status;
    t.block->on_logged = [bio, result](int) { EndClone(bio, result); };
    t.covered.push_back(std::move(t.block));
    writer_.Queue(std::move(t.covered));
    return EndIoResult::kIncomplete;
  }

  Status PreResume() override {
    std::call_once(super_once_, [&] {
      super_status_ = writer_.WriteInitialSuper();
      if (super_status_) LogOwners::Get().Claim(log_->name(), this);
    });
    return super_status_;
  }

  // A suspended volume's log is complete up to the suspend's flush.
  void PostSuspend() override { writer_.Drain(); }

  std::string StatusLine(StatusType type) const override {
    if (type == StatusType::kTable) return fmt::format("{} {}", dev_->name(), log_->name());
    return writer_.StatusLine();
  }

  Status Message(std::span<const std::string> args, std::string* /*reply*/) override {
    if (args.empty() || strcasecmp(args[0].c_str(), "mark") != 0) {
      return InvalidArgument("unrecognised log-writes message '{}' (expected: mark <name>)",
                             args.empty() ? "" : args[0]);
    }
    if (args.size() != 2) {
      return InvalidArgument("mark takes exactly 1 argument <name>, got {}", args.size() - 1);
    }
    const size_t max = logwrites::MaxMarkLength(logwrites::kLogSectorSize);
    if (args[1].empty() || args[1].size() > max) {
      return InvalidArgument("mark name must be 1 to {} bytes, got {}", max, args[1].size());
    }
    if (!writer_.enabled()) {
      return Fail(ErrorCode::kIo, EIO, "logging is disabled on {}", log_->name());
    }
    std::vector<std::unique_ptr<PendingBlock>> one;
    one.push_back(MakeMark(args[1]));
    writer_.Queue(std::move(one));
    writer_.Drain();  // the mark is in the log when the message returns
    return {};
  }

  void IterateDevices(const std::function<void(BlockDevice&)>& fn) const override {
    fn(*dev_);
    fn(*log_);
  }

  uint32_t num_flush_bios() const override { return 1; }

 private:
  // A request between Map and EndIo: its own entry and, for a flush, the
  // entries it covers.
  struct Tracked {
    std::unique_ptr<PendingBlock> block;
    std::vector<std::unique_ptr<PendingBlock>> covered;
  };

  static std::unique_ptr<PendingBlock> MakeMark(std::string name) {
    auto b = std::make_unique<PendingBlock>();
    b->flags = logwrites::kFlagMark;
    b->mark = std::move(name);
    return b;
  }

  const std::shared_ptr<BlockDevice> dev_;
  const std::shared_ptr<BlockDevice> log_;
  std::once_flag super_once_;
  Status super_status_;

  std::mutex mu_;  // a leaf lock; never held while calling the writer
  // Completed writes no flush has covered yet, in completion order.
  std::vector<std::unique_ptr<PendingBlock>> unflushed_;  // guarded by mu_
  std::unordered_map<Bio*, Tracked> tracked_;             // guarded by mu_

  LogWriter writer_;  // last: its thread stops before the state above goes
};

Result<std::unique_ptr<Target>> CreateLogWrites(const TargetContext& ctx,
                                                std::span<const std::string> args) {
  if (args.size() != 2) {
    return InvalidArgument("expected 2 arguments <dev> <log_dev>, got {}", args.size());
  }
  auto dev = ctx.GetDevice(args[0], 0, ctx.length);
  if (!dev) return std::unexpected(dev.error().Prefixed("dev"));
  // The super, one entry and the sector the kernel keeps free.
  auto log = ctx.GetDevice(args[1], 0, 3);
  if (!log) return std::unexpected(log.error().Prefixed("log_dev"));
  if ((*log)->name() == (*dev)->name()) {
    return InvalidArgument("log_dev {} is the same device as dev", args[1]);
  }
  return std::make_unique<LogWritesTarget>(std::move(*dev), std::move(*log));
}

}  // namespace

constinit const TargetType kLogWritesTarget{"log-writes", {1, 1, 0}, &CreateLogWrites};

}  // namespace udm
