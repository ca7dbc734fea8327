// udmsetup's text output, laid out like dmsetup's where a dmsetup verb
// exists (info, ls, deps, targets, version, table, status) and as readable
// blocks for udm's own verbs (stats, events). Pure functions of the
// daemon's result; missing or mistyped fields print as empty/0, never throw.
#pragma once

#include <string>
#include <string_view>

#include <nlohmann/json.hpp>

#include "control/udmsetup_args.h"

namespace udm::daemon::udmsetup {

// The text printed for `command`'s result (without --json). Empty for
// verbs that print nothing on success (create, load, suspend, ...).
std::string FormatResult(const CliCommand& command, const nlohmann::json& result);

// One Info block, dmsetup's `info` layout, ending with an empty line.
std::string FormatInfo(const nlohmann::json& info);
// `ls`: "NAME\t(SECTORS sectors)" per volume, or "No devices found".
std::string FormatLs(const nlohmann::json& volumes);
// `deps`: "N dependencies\t: (/path) (udm:name)".
std::string FormatDeps(const nlohmann::json& deps);
// `targets`: "linear           v1.4.0" per target.
std::string FormatTargets(const nlohmann::json& targets);
// `table`/`status`: the lines as they are.
std::string FormatLines(const nlohmann::json& result);
// `stats`: counters, queue, barrier latency and in-flight barriers.
std::string FormatStats(const nlohmann::json& stats);
// `events`: "TIME  KIND  DETAIL" per event, oldest first.
std::string FormatEvents(const nlohmann::json& events);
// `version`: the daemon half ("Driver version: ...").
std::string FormatDriverVersion(const nlohmann::json& version);
// `version`: the udmsetup half ("Library version: ...").
std::string FormatLibraryVersion(std::string_view cli_version);

}  // namespace udm::daemon::udmsetup
