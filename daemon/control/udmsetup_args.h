// The udmsetup command line, parsed like dmsetup's: a verb, its arguments,
// and options anywhere ("--" ends them). Every error here is a usage error
// (exit status 2) and names the bad argument.
#pragma once

#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "udm/error.h"

namespace udm::daemon::udmsetup {

struct CliOptions {
  std::optional<std::string> socket;  // --socket PATH
  bool json = false;                  // --json
  bool help = false;                  // -h, --help
  std::vector<std::string> tables;    // --table LINE, in order (repeatable)
  bool notable = false;               // -n, --notable
  bool readonly = false;              // -r, --readonly
  std::optional<std::string> uuid;    // -u, --uuid U
  std::optional<std::string> barriers;  // --barriers flush|ordered
  bool noflush = false;               // --noflush
  bool force = false;                 // -f, --force
  bool inactive = false;              // --inactive
  std::optional<std::string> target;  // --target T
  std::optional<uint64_t> limit;      // --limit N (events)
};

struct CliCommand {
  std::string verb;               // canonical: "reload" is "load", "--version" is "version"
  std::vector<std::string> args;  // positional arguments after the verb
  CliOptions options;
};

// Parses argv without the program name. `help` (or --help) gives a
// command with verb "help".
Result<CliCommand> ParseCommandLine(std::span<const std::string> argv);

// The usage text printed by `udmsetup help`.
std::string UsageText();

}  // namespace udm::daemon::udmsetup
