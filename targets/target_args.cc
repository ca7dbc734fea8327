// Bounded argument parsing for target constructors and messages.
#include "target_args.h"

#include <cctype>

#include "udm/table.h"

namespace udm {

Result<uint64_t> ParseBounded(std::string_view text, std::string_view field, uint64_t lo,
                              uint64_t hi) {
  auto v = ParseU64(text, field);
  if (!v) return v;
  if (*v < lo || *v > hi) {
    return InvalidArgument("{}: {} is out of range [{}, {}]", field, *v, lo, hi);
  }
  return v;
}

bool EqualsIgnoreCase(std::string_view a, std::string_view b) {
  if (a.size() != b.size()) return false;
  for (size_t i = 0; i < a.size(); ++i) {
    if (std::tolower(static_cast<unsigned char>(a[i])) !=
        std::tolower(static_cast<unsigned char>(b[i]))) {
      return false;
    }
  }
  return true;
}

}  // namespace udm
