// Device-mapper tables: the dmsetup text format, its parser, and a built
// Table (an ordered list of constructed targets covering [0, size)).
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "udm/error.h"
#include "udm/target.h"
#include "udm/target_registry.h"

namespace udm {

// One line of a table as written: "<start> <length> <target> <args...>".
struct TableLine {
  unsigned line_no = 0;  // 1-based line in the source text
  uint64_t start = 0;
  uint64_t length = 0;
  std::string target;
  std::vector<std::string> args;
};

// The most sectors a table may cover: a volume is a file, and its size in
// bytes must fit in off_t (2^54 - 1 sectors, just under 8 EiB).
inline constexpr uint64_t kMaxTableSectors = uint64_t{INT64_MAX} >> kSectorShift;

// Parses table text. Blank lines and '#' comments are skipped. Checks the
// syntax and the layout (first line at 0, no gap, no overlap, no zero
// length, no overflow, at most kMaxTableSectors); errors name the line and
// the field.
Result<std::vector<TableLine>> ParseTableText(std::string_view text);

// Parses one unsigned decimal number for `field`, rejecting signs, junk and
// overflow. Shared by the table parser and target argument parsers.
Result<uint64_t> ParseU64(std::string_view text, std::string_view field);

struct TableOptions {
  bool writable = true;
  DeviceResolver* resolver = nullptr;
  std::function<void()> raise_event;  // passed to every target
};

class Table {
 public:
  struct Entry {
    const TargetType* type;
    std::unique_ptr<Target> target;
  };

  // Constructs every target of `lines`. Errors are prefixed with the line
  // number; on error nothing is left open.
  static Result<std::unique_ptr<Table>> Build(const std::vector<TableLine>& lines,
                                              const TargetRegistry& registry,
                                              const TableOptions& options);
  // ParseTableText + Build.
  static Result<std::unique_ptr<Table>> FromText(std::string_view text,
                                                 const TargetRegistry& registry,
                                                 const TableOptions& options);

  uint64_t sectors() const { return sectors_; }
  size_t num_targets() const { return entries_.size(); }
  const Entry& entry(size_t i) const { return entries_[i]; }
  bool writable() const { return writable_; }

  // The index of the target that holds `sector`; sector < sectors().
  size_t FindTarget(uint64_t sector) const;

  // "<start> <length> <type> <line>" for every target, one per line, in
  // dmsetup's format.
  std::string Text(StatusType type) const;

  // Every device under the table, each once.
  std::vector<BlockDevice*> Devices() const;

  void PreSuspend();
  void PostSuspend();
  Status PreResume();
  void Resume();

 private:
  Table() = default;

  std::vector<Entry> entries_;
  std::vector<uint64_t> ends_;  // ends_[i]: one past the last sector of target i
  uint64_t sectors_ = 0;
  bool writable_ = true;
};

}  // namespace udm
