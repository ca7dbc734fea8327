// The control protocol's framing (docs/protocol.md): one JSON object per
// line, requests with an id, responses with the same id and a result or an
// error {code, message}. Pure functions; nothing here touches a socket.
#pragma once

#include <cstddef>
#include <cstdint>
#include <expected>
#include <string>
#include <string_view>

#include <nlohmann/json.hpp>

#include "udm/error.h"

namespace udm::daemon {

// A frame longer than this (not counting its '\n') closes the connection.
inline constexpr size_t kMaxFrameBytes = size_t{1} << 20;
// Requests nested deeper than this are refused before they reach a handler.
inline constexpr int kMaxJsonDepth = 32;
inline constexpr int kProtocolVersion = 1;

// Wire error codes beyond udm::ErrorCode. An Error travels as one of these
// when its errno says so (see WireErrorCode).
inline constexpr int kPermissionDeniedErrno = EACCES;
inline constexpr int kProtocolErrno = EPROTO;

struct ControlRequest {
  nlohmann::json id;      // a number or a string
  std::string method;
  nlohmann::json params;  // always an object (empty when omitted)
};

// A frame that is not a request: the error to send back and the id to send
// it with (null when none could be read).
struct FrameError {
  nlohmann::json id;
  Error error;
};

// Parses one line (without its '\n'; a trailing '\r' is ignored). Never
// throws; any byte sequence gives a Request or a FrameError.
std::expected<ControlRequest, FrameError> ParseRequest(std::string_view line);

// Encoders return one line including the trailing '\n'. Strings that are
// not valid UTF-8 are sent with U+FFFD in place of the bad bytes.
std::string EncodeResult(const nlohmann::json& id, const nlohmann::json& result);
std::string EncodeError(const nlohmann::json& id, const Error& error);
std::string EncodeRequest(const nlohmann::json& id, std::string_view method,
                          const nlohmann::json& params);
std::string EncodeLine(const nlohmann::json& value);

// The wire code of an error: "permission_denied" for EACCES/EPERM,
// "protocol" for EPROTO, else the name of error.code ("not_found", ...).
std::string_view WireErrorCode(const Error& error);
// The inverse, for clients: an error response's code and message as an
// Error (unknown codes become kIo with the code in the message).
Error ErrorFromWire(std::string_view code, std::string_view message);
// Errors the server itself sends.
Error ProtocolError(std::string message);
Error PermissionDenied(std::string message);

// Volume names: 1-127 bytes, no '/', not "." or "..", no NUL or control
// characters. The error names the offending input.
Status ValidateVolumeName(std::string_view name);

// True when `text` is well-formed UTF-8 (no overlongs, no surrogates).
bool IsValidUtf8(std::string_view text);

// `text` in single quotes for an error message: control bytes as \xNN,
// cut after `max` bytes with "...".
std::string QuoteForMessage(std::string_view text, size_t max = 80);

// Milliseconds since the Unix epoch (the snapshot's time_ms).
int64_t NowUnixMs();

}  // namespace udm::daemon
