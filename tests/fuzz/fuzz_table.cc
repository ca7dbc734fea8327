// The table parser and builder, fed whole tables as udmd gets them from
// `udmsetup create/load`. A parsed table must keep the layout promises
// (starts at 0, no gap, no overlap, no empty target); a built table must
// cover exactly the parsed sectors, find the target of every boundary
// sector, and re-emit text (`udmsetup table`) that builds the same table.
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include "fuzz/fuzz_support.h"
#include "udm/table.h"
#include "udm/targets/builtin.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace udm;
  using udm::fuzz::Check;
  const std::string_view text(reinterpret_cast<const char*>(data), size);
  auto lines = ParseTableText(text);
  if (!lines) {
    Check(!lines.error().message.empty(), "a refusal without a message");
    return 0;
  }
  uint64_t next = 0;
  for (const TableLine& l : *lines) {
    Check(l.start == next && l.length > 0 && l.start + l.length > l.start &&
              l.start + l.length <= kMaxTableSectors && !l.target.empty(),
          "parsed layout has a gap, an overlap, an overflow, an end past the largest volume or "
          "an empty target",
          std::string(text));
    next = l.start + l.length;
  }
  TableOptions options;
  options.resolver = &fuzz::Devices();
  options.writable = size % 2 == 0;
  options.raise_event = [] {};
  auto table = Table::Build(*lines, BuiltinTargets(), options);
  if (!table) {
    Check(!table.error().message.empty(), "a refusal without a message");
    return 0;
  }
  const Table& t = **table;
  Check(t.sectors() == next && t.num_targets() == lines->size(), "built table differs from its lines");
  for (size_t i = 0; i < t.num_targets(); ++i) {
    const TableLine& l = (*lines)[i];
    Check(t.FindTarget(l.start) == i && t.FindTarget(l.start + l.length - 1) == i,
          "FindTarget misses a boundary", std::string(text));
  }
  (void)t.Text(StatusType::kInfo);
  (void)t.Devices();
  const std::string emitted = t.Text(StatusType::kTable);
  auto again = Table::FromText(emitted, BuiltinTargets(), options);
  Check(again.has_value(), "re-emitted table is refused",
        emitted + (again ? "" : "\n" + again.error().message));
  Check((*again)->Text(StatusType::kTable) == emitted, "re-emitted table changes", emitted);
  return 0;
}
