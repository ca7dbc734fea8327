// Reading dm-log-writes logs (written by the kernel or by udm's log-writes
// target): the super and every entry are parsed and checked up front, so a
// ParsedLog is known to be well formed; write data is read on demand.
// Any input, however corrupt, yields an Error naming the first problem and
// its byte offset; nothing here aborts on bad data.
#pragma once

#include <cstdint>
#include <memory>
#include <span>
#include <string>
#include <vector>

#include "udm/error.h"

namespace udm::crash {

// Random access to the bytes of a log (a file, a device, memory).
class LogSource {
 public:
  virtual ~LogSource() = default;
  virtual uint64_t size() const = 0;
  // Reads exactly out.size() bytes at `offset`; thread-safe.
  virtual Status ReadAt(uint64_t offset, std::span<uint8_t> out) const = 0;
};

// A file or block device, opened read-only. Its size is taken once.
Result<std::shared_ptr<LogSource>> OpenLogFile(const std::string& path);
std::shared_ptr<LogSource> LogFromBytes(std::vector<uint8_t> bytes);

struct LogEntry {
  uint64_t index = 0;
  uint64_t flags = 0;       // logwrites::kFlag*
  uint64_t sector = 0;      // first data-device sector, in 512-byte sectors
  uint64_t nr_sectors = 0;  // in 512-byte sectors
  std::string mark;         // a mark's name
  uint64_t entry_offset = 0;  // byte offset of the entry sector in the log
  uint64_t data_offset = 0;   // byte offset of the data (writes only)

  bool is_mark() const;
  bool is_flush() const;
  bool is_fua() const;
  bool is_discard() const;
  // Changes data-device contents: a write or discard with sectors.
  bool is_write() const;
};

struct ParseOptions {
  // Entries beyond the super's count are read too, as long as they are
  // complete and well formed (a live log whose super lags). Off: exactly
  // the super's count, as replay-log does.
  bool scan_past_super = false;
};

struct ParsedLog {
  uint32_t sectorsize = 0;
  uint64_t super_entries = 0;  // nr_entries in the super
  std::vector<LogEntry> entries;
  std::shared_ptr<LogSource> source;

  // Reads `out.size()` bytes of a write's data, `offset` bytes into it.
  Status ReadData(const LogEntry& e, uint64_t offset, std::span<uint8_t> out) const;
  // Index of the first mark named `name`, or -1.
  int64_t FindMark(const std::string& name) const;
};

Result<ParsedLog> ParseLog(std::shared_ptr<LogSource> source, const ParseOptions& opts = {});
Result<ParsedLog> ParseLogBytes(std::span<const uint8_t> bytes, const ParseOptions& opts = {});
Result<ParsedLog> ParseLogFile(const std::string& path, const ParseOptions& opts = {});

// "entry 12: sector 2048 +8 FLUSH|FUA" or "entry 3: mark 'name'".
std::string DescribeEntry(const LogEntry& e);

}  // namespace udm::crash
