// udmsetup's text output. Labels are padded to 19 columns as in dmsetup's
// `info` ("Number of targets: " is the widest).
#include "control/udmsetup_format.h"

#include <fmt/format.h>

namespace udm::daemon::udmsetup {

using nlohmann::json;

namespace {

const json& Field(const json& object, std::string_view key) {
  static const json kNull;
  if (!object.is_object()) return kNull;
  auto it = object.find(key);
  return it == object.end() ? kNull : *it;
}

std::string Str(const json& object, std::string_view key) {
  const json& v = Field(object, key);
  if (v.is_string()) return v.get<std::string>();
  if (v.is_number()) return v.dump();
  return "";
}

uint64_t AsU64(const json& v) {
  if (v.is_number_unsigned()) return v.get<uint64_t>();
  if (v.is_number_integer() && v.get<int64_t>() >= 0) return static_cast<uint64_t>(v.get<int64_t>());
  return 0;
}

uint64_t U64(const json& object, std::string_view key) { return AsU64(Field(object, key)); }

bool Bool(const json& object, std::string_view key) {
  const json& v = Field(object, key);
  return v.is_boolean() && v.get<bool>();
}

// "Label:" padded to dmsetup's 19 columns (at least one space), then the value.
std::string Row(std::string_view label, std::string_view value) {
  return fmt::format("{:<18} {}\n", fmt::format("{}:", label), value);
}

std::string TablesPresent(const json& info) {
  bool live = Bool(info, "live_table"), inactive = Bool(info, "inactive_table");
  if (!live && !inactive) return "None";
  if (live && inactive) return "LIVE & INACTIVE";
  return live ? "LIVE" : "INACTIVE";
}

std::string Latency(const json& latency) {
  if (U64(latency, "count") == 0) return "no samples";
  return fmt::format("{} samples, p50 {} us, p90 {} us, p99 {} us, max {} us",
                     U64(latency, "count"), U64(latency, "p50"), U64(latency, "p90"),
                     U64(latency, "p99"), U64(latency, "max"));
}

std::string InflightBarriers(const json& barriers) {
  if (!barriers.is_array() || barriers.empty()) return Row("In-flight barriers", "none");
  std::string out = Row("In-flight barriers", std::to_string(barriers.size()));
  for (const json& b : barriers) {
    out += fmt::format("  #{} {} {} {} us\n", U64(b, "id"), Bool(b, "ordered") ? "ordered" : "flush",
                       Str(b, "phase"), U64(b, "age_us"));
  }
  return out;
}

}  // namespace

std::string FormatInfo(const json& info) {
  std::string state = Str(info, "state");
  if (Bool(info, "read_only")) state += " (READ-ONLY)";
  std::string out = Row("Name", Str(info, "name")) + Row("State", state);
  if (Field(info, "read_ahead").is_number()) out += Row("Read Ahead", Str(info, "read_ahead"));
  out += Row("Tables present", TablesPresent(info));
  out += Row("Open count", std::to_string(U64(info, "open_count")));
  out += Row("Event number", std::to_string(U64(info, "event_nr")));
  if (!Str(info, "path").empty()) out += Row("Path", Str(info, "path"));
  out += Row("Number of targets", std::to_string(U64(info, "num_targets")));
  if (!Str(info, "barriers").empty()) out += Row("Barriers", Str(info, "barriers"));
  if (Field(info, "errors").is_number()) out += Row("Errors", std::to_string(U64(info, "errors")));
  if (!Str(info, "last_error").empty()) out += Row("Last error", Str(info, "last_error"));
  if (!Str(info, "restore_error").empty()) out += Row("Restore error", Str(info, "restore_error"));
  if (!Str(info, "uuid").empty()) out += "UUID: " + Str(info, "uuid") + "\n";
  return out + "\n";
}

std::string FormatLs(const json& volumes) {
  if (!volumes.is_array() || volumes.empty()) return "No devices found\n";
  std::string out;
  for (const json& v : volumes) out += fmt::format("{}\t({} sectors)\n", Str(v, "name"), U64(v, "sectors"));
  return out;
}

std::string FormatDeps(const json& deps) {
  const json& devices = Field(deps, "devices");
  size_t n = devices.is_array() ? devices.size() : 0;
  std::string out = fmt::format("{} dependencies\t:", n);
  for (size_t i = 0; i < n; ++i) {
    out += fmt::format(" ({})", devices[i].is_string() ? devices[i].get<std::string>() : "?");
  }
  return out + "\n";
}

std::string FormatTargets(const json& targets) {
  std::string out;
  if (!targets.is_array()) return out;
  for (const json& t : targets) {
    const json& v = Field(t, "version");
    auto part = [&](size_t i) -> uint64_t {
      return v.is_array() && i < v.size() ? AsU64(v[i]) : 0;
    };
    out += fmt::format("{:<16} v{}.{}.{}\n", Str(t, "name"), part(0), part(1), part(2));
  }
  return out;
}

std::string FormatLines(const json& result) {
  std::string out;
  const json& lines = Field(result, "lines");
  if (!lines.is_array()) return out;
  for (const json& l : lines) {
    if (l.is_string()) out += l.get<std::string>() + "\n";
  }
  return out;
}

std::string FormatStats(const json& s) {
  std::string out = Row("Name", Str(s, "name")) + Row("State", Str(s, "state"));
  out += Row("Reads", fmt::format("{} ({} bytes)", U64(s, "reads"), U64(s, "read_bytes")));
  out += Row("Writes", fmt::format("{} ({} bytes)", U64(s, "writes"), U64(s, "write_bytes")));
  const std::pair<const char*, const char*> counters[] = {
      {"Flushes", "flushes"},     {"Barriers", "barriers"}, {"Discards", "discards"},
      {"Write zeroes", "write_zeroes"}, {"Errors", "errors"}, {"Requeues", "requeues"},
      {"In flight", "in_flight"}, {"Deferred", "deferred"},
  };
  for (const auto& [label, key] : counters) out += Row(label, std::to_string(U64(s, key)));
  if (!Str(s, "last_error").empty()) out += Row("Last error", Str(s, "last_error"));
  out += Row("Barrier latency", Latency(Field(s, "barrier_latency_us")));
  out += InflightBarriers(Field(s, "inflight_barriers"));
  out += Row("Event number", std::to_string(U64(s, "event_nr")));
  return out;
}

std::string FormatEvents(const json& events) {
  std::string out;
  if (!events.is_array()) return out;
  for (const json& e : events) {
    std::string line = fmt::format("{}  {:<10} {}", Str(e, "time"), Str(e, "kind"), Str(e, "detail"));
    while (!line.empty() && line.back() == ' ') line.pop_back();
    out += line + "\n";
  }
  return out;
}

std::string FormatDriverVersion(const json& version) {
  return fmt::format("Driver version:    {} (udmd, protocol {})\n", Str(version, "version"),
                     Str(version, "protocol"));
}

std::string FormatLibraryVersion(std::string_view cli_version) {
  return fmt::format("Library version:   {} (udmsetup)\n", cli_version);
}

std::string FormatResult(const CliCommand& command, const json& result) {
  const std::string& v = command.verb;
  if (v == "info") {
    if (result.is_object()) return FormatInfo(result);
    if (!result.is_array() || result.empty()) return "No devices found\n";
    std::string out;
    for (const json& info : result) out += FormatInfo(info);
    return out;
  }
  if (v == "ls") return FormatLs(result);
  if (v == "deps") return FormatDeps(result);
  if (v == "targets") return FormatTargets(result);
  if (v == "table" || v == "status") return FormatLines(result);
  if (v == "stats") return FormatStats(result);
  if (v == "events") return FormatEvents(result);
  if (v == "version") return FormatDriverVersion(result);
  if (v == "message") {
    std::string reply = Str(result, "reply");
    if (!reply.empty() && reply.back() != '\n') reply.push_back('\n');
    return reply;
  }
  return "";
}

}  // namespace udm::daemon::udmsetup
