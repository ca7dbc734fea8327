// UDM_CHECK: a broken invariant logs where and why, then aborts. Used for
// programming errors only, never for bad input.
#pragma once

namespace udm::detail {
[[noreturn]] void CheckFailed(const char* expr, const char* file, int line);
}  // namespace udm::detail

#define UDM_CHECK(cond) \
  ((cond) ? static_cast<void>(0) : ::udm::detail::CheckFailed(#cond, __FILE__, __LINE__))
