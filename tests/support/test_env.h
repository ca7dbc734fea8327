// Test knobs from the environment (a shorter load test under sanitizers,
// fewer power-cut seeds): a value that is set but wrong fails the test with
// a message naming it, instead of silently running the default.
#pragma once

#include <expected>
#include <string>

namespace udm::test {

// The integer in environment variable `name`: `fallback` when it is unset
// or empty, an error naming the variable and the value when it is not a
// whole number in [min, max].
std::expected<int, std::string> EnvInt(const char* name, int fallback, int min, int max);

}  // namespace udm::test
