#include "support/test_env.h"

#include <charconv>
#include <cstdlib>
#include <cstring>

#include <fmt/core.h>

namespace udm::test {

std::expected<int, std::string> EnvInt(const char* name, int fallback, int min, int max) {
  const char* v = std::getenv(name);
  if (v == nullptr || *v == '\0') return fallback;
  const char* end = v + std::strlen(v);
  int n = 0;
  const auto [p, ec] = std::from_chars(v, end, n);
  if (ec != std::errc() || p != end || n < min || n > max) {
    return std::unexpected(fmt::format("{} must be a number from {} to {}, not '{}'", name, min,
                                       max, v));
  }
  return n;
}

}  // namespace udm::test
