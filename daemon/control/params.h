// The methods of the control protocol and the parameters each one takes
// (docs/protocol.md, "Methods"). The server checks every request against
// this table before a handler sees it; handlers then read params with the
// accessors below, which cannot fail on checked params.
#pragma once

#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json.hpp>

#include "udm/error.h"

namespace udm::daemon {

enum class ParamType {
  kName,         // a volume name (ValidateVolumeName)
  kString,       // any string
  kUuid,         // 1-128 bytes, no whitespace or control characters
  kBool,
  kUint,         // a non-negative integer that fits 64 bits
  kPositive,     // a kUint greater than zero
  kStringArray,  // a non-empty array of strings
  kBarriers,     // "flush" or "ordered"
  kIntervalMs,   // an integer in [50, 60000]
};

struct ParamSpec {
  std::string_view key;
  ParamType type;
  bool required;
};

struct MethodSpec {
  std::string_view name;
  std::span<const ParamSpec> params;
};

// Every method of protocol version 1, in the order of docs/protocol.md.
std::span<const MethodSpec> Methods();
// nullptr when `method` is not a protocol method.
const MethodSpec* FindMethod(std::string_view method);

// Checks `params` (an object) for `method`. An unknown method is
// kUnsupported; an unknown, missing, mistyped or out-of-range parameter is
// kInvalidArgument, named in the message ("create: barriers: ..."). A null
// value counts as absent.
Status ValidateParams(std::string_view method, const nlohmann::json& params);

// Accessors for checked params; an absent or null key gives the default.
std::string StringParam(const nlohmann::json& params, std::string_view key,
                        std::string_view def = "");
std::optional<std::string> OptionalStringParam(const nlohmann::json& params, std::string_view key);
bool BoolParam(const nlohmann::json& params, std::string_view key, bool def = false);
uint64_t UintParam(const nlohmann::json& params, std::string_view key, uint64_t def = 0);
std::optional<uint64_t> OptionalUintParam(const nlohmann::json& params, std::string_view key);
std::vector<std::string> StringArrayParam(const nlohmann::json& params, std::string_view key);

}  // namespace udm::daemon
