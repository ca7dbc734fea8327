// The dmsetup table format: parsing, layout checks, and building a Table of
// constructed targets.
#include "udm/table.h"

#include <algorithm>
#include <charconv>
#include <set>

#include "udm/check.h"

namespace udm {

Result<uint64_t> ParseU64(std::string_view text, std::string_view field) {
  if (text.empty()) return InvalidArgument("{}: missing number", field);
  if (text.front() < '0' || text.front() > '9') {
    return InvalidArgument("{}: '{}' is not an unsigned decimal number", field, text);
  }
  uint64_t v = 0;
  auto [p, ec] = std::from_chars(text.data(), text.data() + text.size(), v);
  if (ec == std::errc::result_out_of_range) {
    return InvalidArgument("{}: '{}' is too large (more than 64 bits)", field, text);
  }
  if (ec != std::errc() || p != text.data() + text.size()) {
    return InvalidArgument("{}: '{}' is not an unsigned decimal number", field, text);
  }
  return v;
}

namespace {

std::vector<std::string> SplitFields(std::string_view line) {
  std::vector<std::string> out;
  size_t i = 0;
  while (i < line.size()) {
    while (i < line.size() && (line[i] == ' ' || line[i] == '\t' || line[i] == '\r')) ++i;
    if (i >= line.size() || line[i] == '#') break;  // a field starting with # comments the rest
    size_t j = i;
    while (j < line.size() && line[j] != ' ' && line[j] != '\t' && line[j] != '\r') ++j;
    out.emplace_back(line.substr(i, j - i));
    i = j;
  }
  return out;
}

// A target may end no later than the largest volume (kMaxTableSectors).
Status CheckEnd(uint64_t end) {
  if (end <= kMaxTableSectors) return {};
  return InvalidArgument(
      "length: the target would end at sector {}, past the largest volume ({} sectors, the "
      "largest file size)",
      end, kMaxTableSectors);
}

Result<TableLine> ParseLine(unsigned line_no, std::vector<std::string> fields) {
  TableLine tl;
  tl.line_no = line_no;
  auto start = ParseU64(fields[0], "start");
  if (!start) return std::unexpected(start.error());
  if (fields.size() < 2) return InvalidArgument("length: missing");
  auto length = ParseU64(fields[1], "length");
  if (!length) return std::unexpected(length.error());
  if (*length == 0) return InvalidArgument("length: must be greater than zero");
  if (*start + *length < *start) {
    return InvalidArgument("length: start {} + length {} overflows", *start, *length);
  }
  if (Status st = CheckEnd(*start + *length); !st) return std::unexpected(st.error());
  if (fields.size() < 3) return InvalidArgument("target: missing target type");
  tl.start = *start;
  tl.length = *length;
  tl.target = std::move(fields[2]);
  tl.args.assign(std::make_move_iterator(fields.begin() + 3),
                 std::make_move_iterator(fields.end()));
  return tl;
}

}  // namespace

Result<std::vector<TableLine>> ParseTableText(std::string_view text) {
  std::vector<TableLine> lines;
  unsigned line_no = 0;
  uint64_t next_start = 0;
  size_t pos = 0;
  while (pos <= text.size()) {
    size_t nl = text.find('\n', pos);
    if (nl == std::string_view::npos) nl = text.size();
    std::string_view raw = text.substr(pos, nl - pos);
    pos = nl + 1;
    ++line_no;
    if (raw.find('\0') != std::string_view::npos) {
      return InvalidArgument("line {}: contains a NUL byte", line_no);
    }
    auto fields = SplitFields(raw);
    if (fields.empty()) continue;
    auto tl = ParseLine(line_no, std::move(fields));
    if (!tl) return std::unexpected(tl.error().Prefixed(fmt::format("line {}", line_no)));
    if (tl->start != next_start) {
      if (lines.empty()) {
        return InvalidArgument("line {}: start: the first target must start at sector 0, not {}",
                               line_no, tl->start);
      }
      return InvalidArgument("line {}: start: {} leaves a {} after the previous target, which ends at {}",
                             line_no, tl->start, tl->start > next_start ? "gap" : "overlap",
                             next_start);
    }
    next_start = tl->start + tl->length;
    lines.push_back(std::move(*tl));
  }
  if (lines.empty()) return InvalidArgument("table is empty: no target lines");
  return lines;
}

Result<std::unique_ptr<Table>> Table::Build(const std::vector<TableLine>& lines,
                                            const TargetRegistry& registry,
                                            const TableOptions& options) {
  if (lines.empty()) return InvalidArgument("table is empty: no target lines");
  std::unique_ptr<Table> table(new Table());
  table->writable_ = options.writable;
  uint64_t next = 0;
  for (const TableLine& tl : lines) {
    const std::string where = fmt::format("line {}", tl.line_no);
    if (tl.start != next || tl.length == 0 || tl.start + tl.length < tl.start) {
      return InvalidArgument("{}: start: {} does not follow the previous target (ends at {})",
                             where, tl.start, next);
    }
    if (Status st = CheckEnd(tl.start + tl.length); !st) {
      return std::unexpected(st.error().Prefixed(where));
    }
    const TargetType* type = registry.Find(tl.target);
    if (type == nullptr) {
      return InvalidArgument("{}: target: unknown target type '{}'", where, tl.target);
    }
    TargetContext ctx{tl.start, tl.length, options.writable, options.resolver,
                      options.raise_event};
    auto target = type->create(ctx, tl.args);
    if (!target) return std::unexpected(target.error().Prefixed(where + ": " + tl.target));
    (*target)->begin_ = tl.start;
    (*target)->length_ = tl.length;
    table->entries_.push_back(Entry{type, std::move(*target)});
    next = tl.start + tl.length;
    table->ends_.push_back(next);
  }
  table->sectors_ = next;
  return table;
}

Result<std::unique_ptr<Table>> Table::FromText(std::string_view text,
                                               const TargetRegistry& registry,
                                               const TableOptions& options) {
  auto lines = ParseTableText(text);
  if (!lines) return std::unexpected(lines.error());
  return Build(*lines, registry, options);
}

size_t Table::FindTarget(uint64_t sector) const {
  UDM_CHECK(sector < sectors_);
  if (ends_.size() == 1) return 0;
  auto it = std::upper_bound(ends_.begin(), ends_.end(), sector);
  return static_cast<size_t>(it - ends_.begin());
}

std::string Table::Text(StatusType type) const {
  std::string out;
  for (const Entry& e : entries_) {
    std::string line = e.target->StatusLine(type);
    out += fmt::format("{} {} {}", e.target->begin(), e.target->length(), e.type->name);
    if (!line.empty()) out += " " + line;
    out += '\n';
  }
  return out;
}

std::vector<BlockDevice*> Table::Devices() const {
  std::vector<BlockDevice*> out;
  std::set<BlockDevice*> seen;
  for (const Entry& e : entries_) {
    e.target->IterateDevices([&](BlockDevice& d) {
      if (seen.insert(&d).second) out.push_back(&d);
    });
  }
  return out;
}

void Table::PreSuspend() {
  for (Entry& e : entries_) e.target->PreSuspend();
}
void Table::PostSuspend() {
  for (Entry& e : entries_) e.target->PostSuspend();
}
Status Table::PreResume() {
  for (Entry& e : entries_) {
    auto st = e.target->PreResume();
    if (!st) {
      return std::unexpected(st.error().Prefixed(
          fmt::format("{} target at sector {}", e.type->name, e.target->begin())));
    }
  }
  return {};
}
void Table::Resume() {
  for (Entry& e : entries_) e.target->Resume();
}

}  // namespace udm
