// Shared by the fuzzers: the devices table lines may name (resolved in
// memory, never opened from disk) and a check that reports the input's
// broken promise before aborting, so libFuzzer saves the input.
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "udm/target.h"

namespace udm::fuzz {

// Resolves /fuzz/a, /fuzz/b, /fuzz/c, /fuzz/d (2^21 sectors each),
// /fuzz/tiny (8 sectors) and udm:base (2^21 sectors); anything else is
// "not found". The devices complete I/O without storing data.
DeviceResolver& Devices();

// The names Devices() knows, for seed inputs and for picking one by byte.
const std::vector<std::string>& DeviceNames();

// Aborts with `what` and `detail` on stderr unless `ok`.
void Check(bool ok, std::string_view what, std::string_view detail = {});

// Whitespace-separated words, as the table parser splits a line.
std::vector<std::string> SplitWords(std::string_view text);

}  // namespace udm::fuzz
