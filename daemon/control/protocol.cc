// Framing of the control protocol: parsing request lines, encoding
// responses, and the error-code mapping. nlohmann exceptions stop here.
#include "control/protocol.h"

#include <algorithm>
#include <chrono>

namespace udm::daemon {

using nlohmann::json;

namespace {

// The deepest nesting of arrays and objects in `text`, outside strings.
// Computed before parsing so that a hostile frame cannot recurse deeply.
int NestingDepth(std::string_view text) {
  int depth = 0, max_depth = 0;
  bool in_string = false, escaped = false;
  for (char c : text) {
    if (in_string) {
      if (escaped) escaped = false;
      else if (c == '\\') escaped = true;
      else if (c == '"') in_string = false;
      continue;
    }
    if (c == '"') in_string = true;
    else if (c == '[' || c == '{') max_depth = std::max(max_depth, ++depth);
    else if (c == ']' || c == '}') --depth;
  }
  return max_depth;
}

// nlohmann's what() without its "[json.exception.parse_error.101] " tag.
std::string CleanJsonMessage(std::string_view what) {
  if (!what.empty() && what.front() == '[') {
    size_t end = what.find("] ");
    if (end != std::string_view::npos) what.remove_prefix(end + 2);
  }
  return std::string(what);
}

std::unexpected<FrameError> BadFrame(json id, std::string message) {
  return std::unexpected(FrameError{std::move(id), ProtocolError(std::move(message))});
}

// Length of the UTF-8 sequence starting with `lead`, or 0 if it cannot lead.
int Utf8Length(unsigned char lead) {
  if (lead < 0x80) return 1;
  if (lead >= 0xc2 && lead <= 0xdf) return 2;
  if (lead >= 0xe0 && lead <= 0xef) return 3;
  if (lead >= 0xf0 && lead <= 0xf4) return 4;
  return 0;
}

}  // namespace

bool IsValidUtf8(std::string_view text) {
  for (size_t i = 0; i < text.size();) {
    auto lead = static_cast<unsigned char>(text[i]);
    int n = Utf8Length(lead);
    if (n == 0 || i + n > text.size()) return false;
    uint32_t cp = n == 1 ? lead : lead & (0x7f >> n);
    for (int k = 1; k < n; ++k) {
      auto c = static_cast<unsigned char>(text[i + k]);
      if ((c & 0xc0) != 0x80) return false;
      cp = (cp << 6) | (c & 0x3f);
    }
    bool overlong = (n == 3 && cp < 0x800) || (n == 4 && cp < 0x10000);
    if (overlong || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff)) return false;
    i += n;
  }
  return true;
}

std::expected<ControlRequest, FrameError> ParseRequest(std::string_view line) {
  if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
  if (NestingDepth(line) > kMaxJsonDepth) {
    return BadFrame(nullptr, fmt::format("frame nests deeper than {} levels", kMaxJsonDepth));
  }
  json frame;
  try {
    frame = json::parse(line);
  } catch (const json::exception& e) {
    return BadFrame(nullptr, "invalid JSON: " + CleanJsonMessage(e.what()));
  }
  if (!frame.is_object()) {
    return BadFrame(nullptr, fmt::format("frame is a JSON {}, not an object", frame.type_name()));
  }
  auto id = frame.find("id");
  if (id == frame.end()) return BadFrame(nullptr, "frame has no \"id\"");
  if (!id->is_number() && !id->is_string()) {
    return BadFrame(nullptr, fmt::format("\"id\" is a {}, not a number or a string", id->type_name()));
  }
  auto method = frame.find("method");
  if (method == frame.end()) return BadFrame(*id, "frame has no \"method\"");
  if (!method->is_string()) {
    return BadFrame(*id, fmt::format("\"method\" is a {}, not a string", method->type_name()));
  }
  ControlRequest request{*id, method->get<std::string>(), json::object()};
  auto params = frame.find("params");
  if (params != frame.end() && !params->is_null()) {
    if (!params->is_object()) {
      return BadFrame(*id, fmt::format("\"params\" is a {}, not an object", params->type_name()));
    }
    request.params = std::move(*params);
  }
  return request;
}

std::string EncodeLine(const json& value) {
  std::string line = value.dump(-1, ' ', false, json::error_handler_t::replace);
  line.push_back('\n');
  return line;
}

std::string EncodeResult(const json& id, const json& result) {
  return EncodeLine(json{{"id", id}, {"result", result}});
}

std::string EncodeError(const json& id, const Error& error) {
  json body{{"code", WireErrorCode(error)}, {"message", error.message}};
  return EncodeLine(json{{"id", id}, {"error", std::move(body)}});
}

std::string EncodeRequest(const json& id, std::string_view method, const json& params) {
  return EncodeLine(json{{"id", id}, {"method", method}, {"params", params}});
}

std::string_view WireErrorCode(const Error& error) {
  if (error.sys_errno == EACCES || error.sys_errno == EPERM) return "permission_denied";
  if (error.sys_errno == kProtocolErrno) return "protocol";
  return ErrorCodeName(error.code);
}

Error ErrorFromWire(std::string_view code, std::string_view message) {
  struct Entry {
    std::string_view code;
    ErrorCode value;
    int sys_errno;
  };
  static constexpr Entry kEntries[] = {
      {"invalid_argument", ErrorCode::kInvalidArgument, EINVAL},
      {"not_found", ErrorCode::kNotFound, ENOENT},
      {"already_exists", ErrorCode::kAlreadyExists, EEXIST},
      {"busy", ErrorCode::kBusy, EBUSY},
      {"io", ErrorCode::kIo, EIO},
      {"unsupported", ErrorCode::kUnsupported, EOPNOTSUPP},
      {"permission_denied", ErrorCode::kIo, kPermissionDeniedErrno},
      {"protocol", ErrorCode::kInvalidArgument, kProtocolErrno},
  };
  for (const Entry& e : kEntries) {
    if (e.code == code) return Error{e.value, e.sys_errno, std::string(message)};
  }
  return Error{ErrorCode::kIo, EIO, fmt::format("{} ({})", message, QuoteForMessage(code))};
}

Error ProtocolError(std::string message) {
  return Error{ErrorCode::kInvalidArgument, kProtocolErrno, std::move(message)};
}

Error PermissionDenied(std::string message) {
  return Error{ErrorCode::kIo, kPermissionDeniedErrno, std::move(message)};
}

Status ValidateVolumeName(std::string_view name) {
  if (name.empty()) return InvalidArgument("volume name is empty");
  if (name.size() > 127) {
    return InvalidArgument("volume name {} is {} bytes long (at most 127)",
                           QuoteForMessage(name, 40), name.size());
  }
  if (name == "." || name == "..") return InvalidArgument("volume name '{}' is reserved", name);
  if (name.find('/') != std::string_view::npos) {
    return InvalidArgument("volume name {} contains '/'", QuoteForMessage(name));
  }
  for (char c : name) {
    auto b = static_cast<unsigned char>(c);
    if (b < 0x20 || b == 0x7f) {
      return InvalidArgument("volume name {} contains a control character", QuoteForMessage(name));
    }
  }
  if (!IsValidUtf8(name)) {
    return InvalidArgument("volume name {} is not valid UTF-8", QuoteForMessage(name));
  }
  return {};
}

std::string QuoteForMessage(std::string_view text, size_t max) {
  std::string out = "'";
  for (size_t i = 0; i < text.size(); ++i) {
    if (i == max) {
      out += "...";
      break;
    }
    auto b = static_cast<unsigned char>(text[i]);
    if (b < 0x20 || b == 0x7f || b == '\\') out += fmt::format("\\x{:02x}", b);
    else out.push_back(text[i]);
  }
  out.push_back('\'');
  return out;
}

int64_t NowUnixMs() {
  using namespace std::chrono;
  return duration_cast<milliseconds>(system_clock::now().time_since_epoch()).count();
}

}  // namespace udm::daemon
