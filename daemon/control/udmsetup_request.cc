// Mapping udmsetup verbs to protocol methods and params. Booleans are
// always sent; optional strings and numbers only when given.
#include "control/udmsetup_request.h"

#include <cstdlib>

namespace udm::daemon::udmsetup {

using nlohmann::json;

namespace {

uint64_t ToU64(const std::string& text) { return std::strtoull(text.c_str(), nullptr, 10); }

json NamedParams(const CliCommand& c) {
  json params = json::object();
  if (!c.args.empty()) params["name"] = c.args[0];
  return params;
}

void AddVerbParams(const CliCommand& c, const std::optional<std::string>& table, json& p) {
  const CliOptions& o = c.options;
  const std::string& v = c.verb;
  if (v == "create") {
    if (table) p["table"] = *table;
    if (o.uuid) p["uuid"] = *o.uuid;
    p["read_only"] = o.readonly;
    if (o.barriers) p["barriers"] = *o.barriers;
  } else if (v == "load") {
    p["table"] = table.value_or("");
  } else if (v == "suspend") {
    p["noflush"] = o.noflush;
  } else if (v == "remove") {
    p["force"] = o.force;
  } else if (v == "rename") {
    p["new_name"] = c.args[1];
  } else if (v == "table" || v == "status") {
    p["inactive"] = o.inactive;
    if (o.target) p["target"] = *o.target;
  } else if (v == "message") {
    p["sector"] = ToU64(c.args[1]);
    p["args"] = json(std::vector<std::string>(c.args.begin() + 2, c.args.end()));
  } else if (v == "wait") {
    if (c.args.size() > 1) p["event"] = ToU64(c.args[1]);
  } else if (v == "events") {
    if (o.limit) p["limit"] = *o.limit;
  }
}

}  // namespace

CliRequest BuildRequest(const CliCommand& command, const std::optional<std::string>& table) {
  CliRequest request{command.verb, NamedParams(command)};
  AddVerbParams(command, table, request.params);
  return request;
}

}  // namespace udm::daemon::udmsetup
