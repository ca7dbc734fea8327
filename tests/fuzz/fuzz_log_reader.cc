// The dm-log-writes log reader (tools/crash), fed whole logs as udm-crash
// reads them from a file or a live log device. A parsed log must keep what
// ParsedLog promises: every entry lies inside the log, a write's data can
// be read in full, and entries come in order; with scan_past_super the
// reader may find more entries than the super counts, never fewer.
#include <cstddef>
#include <cstdint>
#include <span>
#include <vector>

#include "fuzz/fuzz_support.h"
#include "log_reader.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace udm::crash;
  using udm::fuzz::Check;
  const std::span<const uint8_t> bytes(data, size);
  for (const bool scan : {false, true}) {
    auto log = ParseLogBytes(bytes, ParseOptions{.scan_past_super = scan});
    if (!log) {
      Check(!log.error().message.empty(), "a refusal without a message");
      continue;
    }
    Check(log->sectorsize >= 512 && log->sectorsize % 512 == 0, "accepted an odd sector size");
    if (!scan) Check(log->entries.size() == log->super_entries, "entry count differs from the super");
    if (scan) Check(log->entries.size() >= log->super_entries, "scanning found fewer entries");
    uint64_t last_offset = 0;
    std::vector<uint8_t> buf;
    for (size_t i = 0; i < log->entries.size(); ++i) {
      const LogEntry& e = log->entries[i];
      Check(e.index == i, "entries out of order");
      Check(e.entry_offset >= last_offset && e.entry_offset + log->sectorsize <= size,
            "an entry outside the log or before the previous one");
      last_offset = e.entry_offset + log->sectorsize;
      Check(!DescribeEntry(e).empty(), "an entry without a description");
      if (e.is_write() && !e.is_discard()) {
        const uint64_t len = e.nr_sectors * 512;
        Check(e.data_offset + len <= size, "a write's data runs past the log");
        buf.resize(len);
        Check(log->ReadData(e, 0, buf).has_value(), "a parsed write's data cannot be read");
      }
    }
  }
  return 0;
}
