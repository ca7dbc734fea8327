// Argument helpers shared by the targets' constructors and message handlers:
// bounded numbers whose errors name the field, the value and the range.
#pragma once

#include <cstdint>
#include <string_view>

#include "udm/error.h"

namespace udm {

// Parses an unsigned decimal in [lo, hi] for `field`.
Result<uint64_t> ParseBounded(std::string_view text, std::string_view field, uint64_t lo,
                              uint64_t hi);

// Case-insensitive ASCII comparison, as the kernel's strcasecmp on keywords.
bool EqualsIgnoreCase(std::string_view a, std::string_view b);

}  // namespace udm
