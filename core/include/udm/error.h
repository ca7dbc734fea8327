// Errors as values: every fallible call outside the I/O hot path returns
// udm::Result<T> (std::expected<T, Error>). An Error carries a category, the
// errno it maps to, and a message that names the bad input.
#pragma once

#include <cerrno>
#include <expected>
#include <string>
#include <utility>

#include <fmt/core.h>

namespace udm {

enum class ErrorCode {
  kInvalidArgument,  // malformed input: table line, argument, request
  kNotFound,         // a volume, target type or device that does not exist
  kAlreadyExists,    // a name or uuid already in use
  kBusy,             // the object is in use or in the wrong state
  kIo,               // a device or file operation failed
  kUnsupported,      // the operation is not implemented by this object
};

struct Error {
  ErrorCode code = ErrorCode::kInvalidArgument;
  int sys_errno = EINVAL;  // positive errno, for callers that speak errno
  std::string message;

  // Returns a copy whose message is "<prefix>: <message>".
  Error Prefixed(std::string_view prefix) const {
    return Error{code, sys_errno, fmt::format("{}: {}", prefix, message)};
  }
};

template <typename T>
using Result = std::expected<T, Error>;
using Status = std::expected<void, Error>;

template <typename... Args>
std::unexpected<Error> Fail(ErrorCode code, int sys_errno, fmt::format_string<Args...> f,
                            Args&&... args) {
  return std::unexpected(Error{code, sys_errno, fmt::format(f, std::forward<Args>(args)...)});
}

template <typename... Args>
std::unexpected<Error> InvalidArgument(fmt::format_string<Args...> f, Args&&... args) {
  return Fail(ErrorCode::kInvalidArgument, EINVAL, f, std::forward<Args>(args)...);
}

// Translates a positive errno from a system call into an Error naming what
// was being done ("open /x/y").
std::unexpected<Error> SysError(int sys_errno, std::string_view what);

const char* ErrorCodeName(ErrorCode code);

}  // namespace udm
