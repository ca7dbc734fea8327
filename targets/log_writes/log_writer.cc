// LogWriter: appends entries to the log device in the kernel's format. The
// super is rewritten after every batch, once the batch's entries are on the
// device, so a reader that trusts the super's count never sees a torn entry.
#include "log_writes/log_writer.h"

#include <fmt/core.h>

#include <algorithm>

#include "udm/targets/log_writes_format.h"

namespace udm {
namespace {

constexpr uint32_t kSector = logwrites::kLogSectorSize;
// Entries are gathered into writes of at most this many bytes.
constexpr size_t kMaxWriteBytes = 4u << 20;

// One request to the log device, waited for on the writer thread (never on
// an I/O path).
int SyncIo(BlockDevice& dev, Op op, uint64_t sector, std::vector<uint8_t>* buf) {
  struct Waiter {
    std::mutex mu;
    std::condition_variable cv;
    bool done = false;
    int status = 0;
  } w;
  iovec iov{};
  Bio bio;
  bio.op = op;
  bio.sector = sector;
  if (buf != nullptr) {
    iov = {buf->data(), buf->size()};
    bio.iov = &iov;
    bio.iov_count = 1;
    bio.sectors = buf->size() / kSector;
  }
  bio.private_data = &w;
  bio.end_io = [](Bio* b, int status) {
    auto* self = static_cast<Waiter*>(b->private_data);
    std::lock_guard<std::mutex> g(self->mu);
    self->status = status;
    self->done = true;
    self->cv.notify_all();
  };
  dev.Submit(&bio);
  std::unique_lock<std::mutex> l(w.mu);
  w.cv.wait(l, [&] { return w.done; });
  return w.status;
}

// Log sectors an entry takes: its header sector plus its data.
uint64_t EntrySectors(const PendingBlock& b) {
  return 1 + ((b.flags & logwrites::kFlagDiscard) ? 0 : b.nr_sectors);
}

}  // namespace

LogWriter::LogWriter(std::shared_ptr<BlockDevice> log)
    : log_(std::move(log)), thread_([this] { Loop(); }) {}

LogWriter::~LogWriter() {
  {
    std::lock_guard<std::mutex> g(mu_);
    stop_ = true;
  }
  cv_.notify_all();
  thread_.join();
}

Status LogWriter::WriteInitialSuper() {
  if (int r = WriteSuper(0); r != 0) {
    return Fail(ErrorCode::kIo, -r, "cannot write the log super to {}: error {}", log_->name(),
                r);
  }
  return {};
}

void LogWriter::Queue(std::vector<std::unique_ptr<PendingBlock>> blocks) {
  {
    std::lock_guard<std::mutex> g(mu_);
    for (auto& b : blocks) queue_.push_back(std::move(b));
  }
  cv_.notify_all();
}

void LogWriter::Drain() {
  std::unique_lock<std::mutex> l(mu_);
  cv_.wait(l, [&] { return queue_.empty() && !busy_; });
}

std::string LogWriter::StatusLine() const {
  std::lock_guard<std::mutex> g(mu_);
  return fmt::format("{} {}{}", logged_entries_, next_sector_ - 1,
                     enabled_ ? "" : " logging_disabled");
}

bool LogWriter::enabled() const {
  std::lock_guard<std::mutex> g(mu_);
  return enabled_;
}

void LogWriter::Loop() {
  std::unique_lock<std::mutex> l(mu_);
  for (;;) {
    cv_.wait(l, [&] { return stop_ || !queue_.empty(); });
    if (queue_.empty()) return;  // stopping with nothing left
    std::vector<std::unique_ptr<PendingBlock>> batch;
    bool durable = false;
    while (!queue_.empty()) {
      durable |= (queue_.front()->flags &
                  (logwrites::kFlagFlush | logwrites::kFlagFua | logwrites::kFlagMark)) != 0;
      batch.push_back(std::move(queue_.front()));
      queue_.pop_front();
    }
    busy_ = true;
    const bool enabled = enabled_;
    l.unlock();
    bool ok = enabled && WriteBatch(batch, durable);
    // Completions waiting on these entries run even when logging stopped:
    // the data device has their data, only the log lost it.
    for (auto& b : batch) {
      if (b->on_logged) b->on_logged(0);
    }
    l.lock();
    if (!ok) enabled_ = false;
    busy_ = false;
    cv_.notify_all();
  }
}

bool LogWriter::WriteBatch(std::vector<std::unique_ptr<PendingBlock>>& batch, bool durable) {
  uint64_t sector, entries;
  {
    std::lock_guard<std::mutex> g(mu_);
    sector = next_sector_;
    entries = logged_entries_;
  }
  std::vector<uint8_t> buf;
  uint64_t buf_sector = sector;
  auto flush_buf = [&]() -> bool {
    if (buf.empty()) return true;
    const int r = SyncIo(*log_, Op::kWrite, buf_sector, &buf);
    if (r != 0) {
      fmt::print(stderr, "log-writes: error {} writing the log at sector {}\n", r, buf_sector);
      return false;
    }
    buf_sector += buf.size() / kSector;
    buf.clear();
    return true;
  };
  for (auto& b : batch) {
    const uint64_t need = EntrySectors(*b);
    if (sector + need >= log_->sectors()) {  // the kernel also keeps the last sector free
      fmt::print(stderr, "log-writes: ran out of space on the log device {}\n", log_->name());
      (void)flush_buf();
      return false;
    }
    const size_t at = buf.size();
    buf.resize(at + kSector);
    logwrites::EntryHeader h{b->sector, b->nr_sectors, b->flags,
                             b->mark.empty() ? 0 : b->mark.size()};
    logwrites::EncodeEntry(h, b->mark, std::span<uint8_t>(buf.data() + at, kSector));
    if (!(b->flags & logwrites::kFlagDiscard)) buf.insert(buf.end(), b->data.begin(), b->data.end());
    sector += need;
    ++entries;
    if (buf.size() >= kMaxWriteBytes && !flush_buf()) return false;
  }
  if (!flush_buf()) return false;
  {
    std::lock_guard<std::mutex> g(mu_);
    next_sector_ = sector;
    logged_entries_ = entries;
  }
  // Entries durable before the super that counts them, the super durable
  // before the flush or FUA that waits for it completes.
  if (durable && SyncIo(*log_, Op::kFlush, 0, nullptr) != 0) return false;
  if (WriteSuper(entries) != 0) return false;
  if (durable && SyncIo(*log_, Op::kFlush, 0, nullptr) != 0) return false;
  return true;
}

int LogWriter::WriteSuper(uint64_t nr_entries) {
  std::vector<uint8_t> buf(kSector);
  logwrites::Super s;
  s.nr_entries = nr_entries;
  logwrites::EncodeSuper(s, buf);
  return SyncIo(*log_, Op::kWrite, 0, &buf);
}

}  // namespace udm
