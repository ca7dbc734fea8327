// Error helpers.
#include "udm/error.h"

#include <cstring>

namespace udm {

std::unexpected<Error> SysError(int sys_errno, std::string_view what) {
  ErrorCode code = ErrorCode::kIo;
  switch (sys_errno) {
    case ENOENT: code = ErrorCode::kNotFound; break;
    case EEXIST: code = ErrorCode::kAlreadyExists; break;
    case EBUSY: code = ErrorCode::kBusy; break;
    case EINVAL: code = ErrorCode::kInvalidArgument; break;
    case EOPNOTSUPP: code = ErrorCode::kUnsupported; break;
    default: break;
  }
  return std::unexpected(Error{code, sys_errno, fmt::format("{}: {}", what, std::strerror(sys_errno))});
}

const char* ErrorCodeName(ErrorCode code) {
  switch (code) {
    case ErrorCode::kInvalidArgument: return "invalid_argument";
    case ErrorCode::kNotFound: return "not_found";
    case ErrorCode::kAlreadyExists: return "already_exists";
    case ErrorCode::kBusy: return "busy";
    case ErrorCode::kIo: return "io";
    case ErrorCode::kUnsupported: return "unsupported";
  }
  return "unknown";
}

}  // namespace udm
