// ParseLog: walks the super and the entries of a dm-log-writes log,
// validating every field against the log's size before trusting it (the
// input may be a truncated file, a device still being written, or garbage).
#include "log_reader.h"

#include <fcntl.h>
#include <linux/fs.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cstring>

#include "udm/targets/log_writes_format.h"

namespace udm::crash {

namespace lw = logwrites;

namespace {

class FileSource : public LogSource {
 public:
  FileSource(int fd, uint64_t size) : fd_(fd), size_(size) {}
  ~FileSource() override { ::close(fd_); }
  uint64_t size() const override { return size_; }
  Status ReadAt(uint64_t offset, std::span<uint8_t> out) const override {
    if (offset > size_ || out.size() > size_ - offset) {
      return Fail(ErrorCode::kIo, EIO, "read of {} bytes at {} is past the end of the log ({})",
                  out.size(), offset, size_);
    }
    size_t done = 0;
    while (done < out.size()) {
      const ssize_t n = ::pread(fd_, out.data() + done, out.size() - done,
                                static_cast<off_t>(offset + done));
      if (n < 0 && errno == EINTR) continue;
      if (n < 0) return SysError(errno, "read log");
      if (n == 0) return Fail(ErrorCode::kIo, EIO, "log shrank while reading at {}", offset);
      done += static_cast<size_t>(n);
    }
    return {};
  }

 private:
  const int fd_;
  const uint64_t size_;
};

class MemorySource : public LogSource {
 public:
  explicit MemorySource(std::vector<uint8_t> bytes) : bytes_(std::move(bytes)) {}
  uint64_t size() const override { return bytes_.size(); }
  Status ReadAt(uint64_t offset, std::span<uint8_t> out) const override {
    if (offset > bytes_.size() || out.size() > bytes_.size() - offset) {
      return Fail(ErrorCode::kIo, EIO, "read of {} bytes at {} is past the end of the log ({})",
                  out.size(), offset, bytes_.size());
    }
    if (!out.empty()) std::memcpy(out.data(), bytes_.data() + offset, out.size());
    return {};
  }

 private:
  const std::vector<uint8_t> bytes_;
};

// Checks one entry header read at `offset`; fills `e` (sectors still in log
// units) and says how many log bytes it takes in total.
Status CheckEntry(const ParsedLog& log, std::span<const uint8_t> sector, uint64_t offset,
                  LogEntry* e, uint64_t* total_bytes) {
  const lw::EntryHeader h = lw::DecodeEntry(sector);
  const uint64_t ss = log.sectorsize;
  auto bad = [&](std::string why) {
    return Fail(ErrorCode::kInvalidArgument, EINVAL, "entry {} at byte {}: {}", e->index, offset,
                why);
  };
  if (h.flags == 0 && h.nr_sectors == 0) return bad("all-zero entry (the log ends early?)");
  if (h.flags & ~lw::kKnownFlags) {
    return bad(fmt::format("unknown flags 0x{:x}", h.flags & ~lw::kKnownFlags));
  }
  if (h.flags & lw::kFlagMark) {
    if (h.data_len == 0 || h.data_len > lw::MaxMarkLength(log.sectorsize)) {
      return bad(fmt::format("mark length {} out of range 1..{}", h.data_len,
                             lw::MaxMarkLength(log.sectorsize)));
    }
    const char* name = reinterpret_cast<const char*>(sector.data() + lw::kEntryHeaderSize);
    e->mark.assign(name, h.data_len);
    if (e->mark.find('\0') != std::string::npos) return bad("mark name contains a NUL byte");
  } else {
    if (h.data_len != 0) {
      return bad(fmt::format("data_len {} on a non-mark entry (inline metadata is unsupported)",
                             h.data_len));
    }
    // replay-log's sanity check: the rest of a non-mark entry sector is zero.
    if (sector[lw::kEntryHeaderSize] != 0) return bad("entry sector is not zero-padded");
  }
  const uint64_t max_sectors = (UINT64_MAX >> 1) / ss;  // keeps byte counts below 2^63
  if (h.nr_sectors > max_sectors || h.sector > max_sectors - h.nr_sectors) {
    return bad(fmt::format("sector {} + {} out of range", h.sector, h.nr_sectors));
  }
  const bool has_data = !(h.flags & lw::kFlagDiscard);
  const uint64_t data_bytes = has_data ? h.nr_sectors * ss : 0;
  const uint64_t left = log.source->size() - offset - ss;
  if (data_bytes > left) {
    return bad(fmt::format("{} bytes of data run past the end of the log ({} bytes left)",
                           data_bytes, left));
  }
  e->flags = h.flags;
  e->entry_offset = offset;
  e->data_offset = has_data && h.nr_sectors > 0 ? offset + ss : 0;
  e->sector = h.sector * (ss / 512);
  e->nr_sectors = h.nr_sectors * (ss / 512);
  *total_bytes = ss + data_bytes;
  return {};
}

}  // namespace

bool LogEntry::is_mark() const { return flags & lw::kFlagMark; }
bool LogEntry::is_flush() const { return flags & lw::kFlagFlush; }
bool LogEntry::is_fua() const { return flags & lw::kFlagFua; }
bool LogEntry::is_discard() const { return flags & lw::kFlagDiscard; }
bool LogEntry::is_write() const { return !is_mark() && nr_sectors > 0; }

Result<std::shared_ptr<LogSource>> OpenLogFile(const std::string& path) {
  const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return SysError(errno, "open log " + path);
  struct stat st {};
  if (::fstat(fd, &st) != 0) {
    const int err = errno;
    ::close(fd);
    return SysError(err, "stat log " + path);
  }
  uint64_t size = static_cast<uint64_t>(st.st_size);
  if (S_ISBLK(st.st_mode) && ::ioctl(fd, BLKGETSIZE64, &size) != 0) {
    const int err = errno;
    ::close(fd);
    return SysError(err, "size of log device " + path);
  }
  return std::make_shared<FileSource>(fd, size);
}

std::shared_ptr<LogSource> LogFromBytes(std::vector<uint8_t> bytes) {
  return std::make_shared<MemorySource>(std::move(bytes));
}

Result<ParsedLog> ParseLog(std::shared_ptr<LogSource> source, const ParseOptions& opts) {
  ParsedLog log;
  log.source = std::move(source);
  const uint64_t size = log.source->size();
  if (size < lw::kSuperSize) {
    return InvalidArgument("log is {} bytes, too short for the {}-byte super", size,
                           lw::kSuperSize);
  }
  std::vector<uint8_t> buf(lw::kSuperSize);
  if (auto st = log.source->ReadAt(0, buf); !st) return std::unexpected(st.error());
  const lw::Super s = lw::DecodeSuper(buf);
  if (s.magic != lw::kMagic) {
    return InvalidArgument("bad magic 0x{:x} (expected 0x{:x}): not a log-writes log", s.magic,
                           lw::kMagic);
  }
  if (s.version != lw::kVersion) {
    return InvalidArgument("log version {} is not supported (expected {})", s.version,
                           lw::kVersion);
  }
  if (s.sectorsize < 512 || s.sectorsize > 65536 || (s.sectorsize & (s.sectorsize - 1)) != 0) {
    return InvalidArgument("bad sectorsize {} in super (a power of two from 512 to 65536)",
                           s.sectorsize);
  }
  log.sectorsize = s.sectorsize;
  log.super_entries = s.nr_entries;
  const uint64_t max_entries = size >= s.sectorsize ? size / s.sectorsize - 1 : 0;
  if (s.nr_entries > max_entries) {
    return InvalidArgument("super counts {} entries but a {}-byte log holds at most {}",
                           s.nr_entries, size, max_entries);
  }
  buf.resize(s.sectorsize);
  uint64_t offset = s.sectorsize;
  for (uint64_t i = 0;; ++i) {
    const bool required = i < s.nr_entries;
    if (!required && !opts.scan_past_super) break;
    if (offset > size || size - offset < s.sectorsize) {
      if (!required) break;
      return InvalidArgument("entry {} at byte {}: log truncated ({} bytes)", i, offset, size);
    }
    if (auto st = log.source->ReadAt(offset, buf); !st) return std::unexpected(st.error());
    LogEntry e;
    e.index = i;
    uint64_t total = 0;
    if (auto st = CheckEntry(log, buf, offset, &e, &total); !st) {
      if (!required) break;  // the unfinished tail of a live log
      return std::unexpected(st.error());
    }
    log.entries.push_back(std::move(e));
    offset += total;
  }
  return log;
}

Result<ParsedLog> ParseLogBytes(std::span<const uint8_t> bytes, const ParseOptions& opts) {
  return ParseLog(LogFromBytes(std::vector<uint8_t>(bytes.begin(), bytes.end())), opts);
}

Result<ParsedLog> ParseLogFile(const std::string& path, const ParseOptions& opts) {
  auto src = OpenLogFile(path);
  if (!src) return std::unexpected(src.error());
  auto log = ParseLog(std::move(*src), opts);
  if (!log) return std::unexpected(log.error().Prefixed(path));
  return log;
}

Status ParsedLog::ReadData(const LogEntry& e, uint64_t offset, std::span<uint8_t> out) const {
  if (e.data_offset == 0 || offset > (e.nr_sectors << 9) ||
      out.size() > (e.nr_sectors << 9) - offset) {
    return InvalidArgument("entry {} has no data at {}+{}", e.index, offset, out.size());
  }
  return source->ReadAt(e.data_offset + offset, out);
}

int64_t ParsedLog::FindMark(const std::string& name) const {
  for (const LogEntry& e : entries) {
    if (e.is_mark() && e.mark == name) return static_cast<int64_t>(e.index);
  }
  return -1;
}

std::string DescribeEntry(const LogEntry& e) {
  if (e.is_mark()) return fmt::format("entry {}: mark '{}'", e.index, e.mark);
  return fmt::format("entry {}: sector {} +{} {}", e.index, e.sector, e.nr_sectors,
                     lw::FlagsString(e.flags));
}

}  // namespace udm::crash
