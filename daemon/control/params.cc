// The method table of protocol version 1 and the parameter checks that
// run before a request reaches the RequestHandler.
#include "control/params.h"

#include "control/protocol.h"

namespace udm::daemon {

using nlohmann::json;

namespace {

using enum ParamType;

constexpr ParamSpec kNameOnly[] = {{"name", kName, true}};
constexpr ParamSpec kCreate[] = {{"name", kName, true},      {"table", kString, false},
                                 {"uuid", kUuid, false},     {"read_only", kBool, false},
                                 {"barriers", kBarriers, false}};
constexpr ParamSpec kLoad[] = {{"name", kName, true}, {"table", kString, true}};
constexpr ParamSpec kSuspend[] = {{"name", kName, true}, {"noflush", kBool, false}};
constexpr ParamSpec kRemove[] = {{"name", kName, true}, {"force", kBool, false}};
constexpr ParamSpec kRename[] = {{"name", kName, true}, {"new_name", kName, true}};
constexpr ParamSpec kTable[] = {{"name", kName, true}, {"inactive", kBool, false},
                                {"target", kString, false}};
constexpr ParamSpec kInfo[] = {{"name", kName, false}};
constexpr ParamSpec kMessage[] = {{"name", kName, true}, {"sector", kUint, true},
                                  {"args", kStringArray, true}};
constexpr ParamSpec kEvents[] = {{"name", kName, true}, {"limit", kPositive, false}};
constexpr ParamSpec kWait[] = {{"name", kName, true}, {"event", kUint, false}};
constexpr ParamSpec kWatch[] = {{"interval_ms", kIntervalMs, false}};

constexpr std::span<const ParamSpec> kNoParams{};

constexpr MethodSpec kMethods[] = {
    {"version", kNoParams}, {"targets", kNoParams}, {"create", kCreate},
    {"load", kLoad},        {"clear", kNameOnly},   {"suspend", kSuspend},
    {"resume", kNameOnly},  {"remove", kRemove},    {"rename", kRename},
    {"table", kTable},      {"status", kTable},     {"info", kInfo},
    {"ls", kNoParams},      {"deps", kNameOnly},    {"message", kMessage},
    {"stats", kNameOnly},   {"events", kEvents},    {"wait", kWait},
    {"watch", kWatch},
};

std::optional<uint64_t> AsUint(const json& value);

// A short description of a JSON value for an error message.
std::string Describe(const json& value) {
  if (value.is_number() || value.is_boolean()) return value.dump();
  if (value.is_string()) return QuoteForMessage(value.get_ref<const std::string&>(), 40);
  return std::string("a ") + value.type_name();
}

Status CheckUuid(const std::string& uuid) {
  if (uuid.empty() || uuid.size() > 128) {
    return InvalidArgument("uuid must be 1-128 bytes, not {}", uuid.size());
  }
  for (char c : uuid) {
    auto b = static_cast<unsigned char>(c);
    if (b <= 0x20 || b == 0x7f) {
      return InvalidArgument("uuid {} contains whitespace or a control character",
                             QuoteForMessage(uuid));
    }
  }
  return {};
}

Status CheckStringArray(const json& value) {
  if (!value.is_array()) return InvalidArgument("expected an array of strings, got {}", Describe(value));
  if (value.empty()) return InvalidArgument("must not be empty");
  for (size_t i = 0; i < value.size(); ++i) {
    if (!value[i].is_string()) {
      return InvalidArgument("element {} is a {}, not a string", i, value[i].type_name());
    }
  }
  return {};
}

// Checks one present, non-null value against its type.
Status CheckValue(const json& value, ParamType type) {
  switch (type) {
    case kName:
    case kString:
    case kUuid:
    case kBarriers:
      if (!value.is_string()) return InvalidArgument("expected a string, got {}", Describe(value));
      break;
    case kBool:
      if (!value.is_boolean()) return InvalidArgument("expected true or false, got {}", Describe(value));
      return {};
    case kUint:
    case kPositive:
    case kIntervalMs:
      if (!AsUint(value)) return InvalidArgument("expected a non-negative integer, got {}", Describe(value));
      break;
    case kStringArray:
      return CheckStringArray(value);
  }
  switch (type) {
    case kName: return ValidateVolumeName(value.get_ref<const std::string&>());
    case kUuid: return CheckUuid(value.get_ref<const std::string&>());
    case kBarriers:
      if (value != "flush" && value != "ordered") {
        return InvalidArgument("expected 'flush' or 'ordered', got {}", Describe(value));
      }
      return {};
    case kPositive:
      if (*AsUint(value) == 0) return InvalidArgument("must be greater than 0");
      return {};
    case kIntervalMs: {
      uint64_t ms = *AsUint(value);
      if (ms < 50 || ms > 60000) return InvalidArgument("{} is outside 50-60000", ms);
      return {};
    }
    default: return {};
  }
}

// A JSON integer that is not negative (parsed text gives unsigned, values
// built in C++ often signed).
std::optional<uint64_t> AsUint(const json& value) {
  if (value.is_number_unsigned()) return value.get<uint64_t>();
  if (value.is_number_integer() && value.get<int64_t>() >= 0) return value.get<int64_t>();
  return std::nullopt;
}

const json* Lookup(const json& params, std::string_view key) {
  if (!params.is_object()) return nullptr;
  auto it = params.find(key);
  if (it == params.end() || it->is_null()) return nullptr;
  return &*it;
}

}  // namespace

std::span<const MethodSpec> Methods() { return kMethods; }

const MethodSpec* FindMethod(std::string_view method) {
  for (const MethodSpec& m : kMethods) {
    if (m.name == method) return &m;
  }
  return nullptr;
}

Status ValidateParams(std::string_view method, const json& params) {
  const MethodSpec* spec = FindMethod(method);
  if (spec == nullptr) {
    return Fail(ErrorCode::kUnsupported, EOPNOTSUPP, "unknown method {}", QuoteForMessage(method));
  }
  if (!params.is_object()) return InvalidArgument("{}: params must be an object", method);
  for (const auto& [key, value] : params.items()) {
    bool known = false;
    for (const ParamSpec& p : spec->params) known = known || p.key == key;
    if (!known) return InvalidArgument("{}: unknown parameter {}", method, QuoteForMessage(key));
  }
  for (const ParamSpec& p : spec->params) {
    const json* value = Lookup(params, p.key);
    if (value == nullptr) {
      if (p.required) return InvalidArgument("{}: missing parameter '{}'", method, p.key);
      continue;
    }
    Status ok = CheckValue(*value, p.type);
    if (!ok) return std::unexpected(ok.error().Prefixed(fmt::format("{}: {}", method, p.key)));
  }
  return {};
}

std::string StringParam(const json& params, std::string_view key, std::string_view def) {
  const json* v = Lookup(params, key);
  return v != nullptr && v->is_string() ? v->get<std::string>() : std::string(def);
}

std::optional<std::string> OptionalStringParam(const json& params, std::string_view key) {
  const json* v = Lookup(params, key);
  if (v == nullptr || !v->is_string()) return std::nullopt;
  return v->get<std::string>();
}

bool BoolParam(const json& params, std::string_view key, bool def) {
  const json* v = Lookup(params, key);
  return v != nullptr && v->is_boolean() ? v->get<bool>() : def;
}

uint64_t UintParam(const json& params, std::string_view key, uint64_t def) {
  return OptionalUintParam(params, key).value_or(def);
}

std::optional<uint64_t> OptionalUintParam(const json& params, std::string_view key) {
  const json* v = Lookup(params, key);
  if (v == nullptr) return std::nullopt;
  return AsUint(*v);
}

std::vector<std::string> StringArrayParam(const json& params, std::string_view key) {
  std::vector<std::string> out;
  const json* v = Lookup(params, key);
  if (v == nullptr || !v->is_array()) return out;
  for (const json& e : *v) {
    if (e.is_string()) out.push_back(e.get<std::string>());
  }
  return out;
}

}  // namespace udm::daemon
