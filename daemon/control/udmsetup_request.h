// The protocol request for a parsed udmsetup command: which method, with
// which params (docs/protocol.md, "Methods").
#pragma once

#include <optional>
#include <string>

#include <nlohmann/json.hpp>

#include "control/udmsetup_args.h"

namespace udm::daemon::udmsetup {

struct CliRequest {
  std::string method;
  nlohmann::json params;
};

// `command` must have passed ParseCommandLine; `table` is the create/load
// table with device paths already made absolute (nullopt: none).
CliRequest BuildRequest(const CliCommand& command, const std::optional<std::string>& table);

}  // namespace udm::daemon::udmsetup
