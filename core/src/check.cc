// The failure path of UDM_CHECK.
#include "udm/check.h"

#include <cstdio>
#include <cstdlib>

namespace udm::detail {

void CheckFailed(const char* expr, const char* file, int line) {
  std::fprintf(stderr, "udm: check failed: %s at %s:%d\n", expr, file, line);
  std::fflush(stderr);
  std::abort();
}

}  // namespace udm::detail
