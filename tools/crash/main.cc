// udm-crash: replay dm-log-writes logs and check every crash state they
// imply. Exit status: 0 clean (or done), 1 a failing state was found, 2 bad
// usage or input.
#include <fmt/core.h>

#include <cstring>
#include <string>
#include <vector>

#include "check.h"
#include "log_reader.h"
#include "replay.h"
#include "udm/table.h"
#include "udm/targets/log_writes_format.h"

namespace udm::crash {
namespace {

constexpr const char* kUsage = R"(usage:
  udm-crash replay LOG DEV [--end-mark M | --limit N] [--live]
      Replays LOG onto DEV (a file or block device), like xfstests' replay-log.
  udm-crash check LOG BASE --fsck 'CMD {}' [--states prefixes|epoch-subsets|torn|all]
                  [--max-states N] [--seed S] [--jobs J] [--torn-unit BYTES]
                  [--from-mark M] [--live] [--workdir DIR] [--json]
      Checks every crash state of LOG over the image BASE (the data device as it
      was when logging started); {} in CMD is the state's file. Torn writes
      are cut at multiples of --torn-unit (default 4096; 512 tears any sector).
  udm-crash dump LOG [--live]
      Lists the entries of LOG.
LOG may be the log device of a live log-writes volume: --live also reads
entries written after the super was last updated (see docs/crash.md).
)";

struct Args {
  std::vector<std::string> positional;
  std::vector<std::pair<std::string, std::string>> options;  // --name, value ("" for flags)
};

// Options that take no value.
bool IsFlag(const std::string& name) { return name == "--json" || name == "--live"; }

Result<Args> Split(int argc, char** argv) {
  Args a;
  for (int i = 2; i < argc; ++i) {
    std::string s = argv[i];
    if (s.rfind("--", 0) != 0) {
      a.positional.push_back(s);
      continue;
    }
    if (const size_t eq = s.find('='); eq != std::string::npos) {
      a.options.emplace_back(s.substr(0, eq), s.substr(eq + 1));
    } else if (IsFlag(s)) {
      a.options.emplace_back(s, "");
    } else if (i + 1 < argc) {
      a.options.emplace_back(s, argv[++i]);
    } else {
      return InvalidArgument("option {} needs a value", s);
    }
  }
  return a;
}

int UsageError(const std::string& msg) {
  fmt::print(stderr, "udm-crash: {}\n{}", msg, kUsage);
  return 2;
}

// Bad input files: the error alone, without the usage text.
int InputError(const Error& e) {
  fmt::print(stderr, "udm-crash: {}\n", e.message);
  return 2;
}

int Replay(const Args& a) {
  if (a.positional.size() != 2) return UsageError("replay takes LOG DEV");
  ReplayOptions ro;
  ParseOptions po;
  for (const auto& [k, v] : a.options) {
    if (k == "--end-mark") ro.end_mark = v;
    else if (k == "--limit") {
      auto n = ParseU64(v, "--limit");
      if (!n) return UsageError(n.error().message);
      ro.limit = *n;
    } else if (k == "--live") po.scan_past_super = true;
    else return UsageError("unknown replay option " + k);
  }
  if (ro.end_mark && ro.limit) return UsageError("--end-mark and --limit exclude each other");
  auto log = ParseLogFile(a.positional[0], po);
  if (!log) return InputError(log.error());
  auto n = ReplayLog(*log, a.positional[1], ro);
  if (!n) return InputError(n.error());
  fmt::print("replayed {} of {} entries onto {}\n", *n, log->entries.size(), a.positional[1]);
  return 0;
}

int Check(const Args& a) {
  if (a.positional.size() != 2) return UsageError("check takes LOG BASE");
  CheckOptions co;
  co.log_path = a.positional[0];
  co.base_path = a.positional[1];
  for (const auto& [k, v] : a.options) {
    auto number = [&](uint64_t* out) {
      auto n = ParseU64(v, k);
      if (!n) return false;
      *out = *n;
      return true;
    };
    uint64_t n = 0;
    if (k == "--fsck") co.command = v;
    else if (k == "--states") {
      auto kinds = ParseStateKinds(v);
      if (!kinds) return UsageError(kinds.error().message);
      co.states.kinds = *kinds;
    } else if (k == "--max-states") {
      if (!number(&co.states.max_states) || co.states.max_states == 0) {
        return UsageError("--max-states needs a positive number, got '" + v + "'");
      }
    } else if (k == "--seed") {
      if (!number(&co.states.seed)) return UsageError("--seed needs a number, got '" + v + "'");
    } else if (k == "--jobs") {
      if (!number(&n) || n == 0 || n > 256) {
        return UsageError("--jobs needs a number from 1 to 256, got '" + v + "'");
      }
      co.jobs = static_cast<unsigned>(n);
    } else if (k == "--torn-unit") {
      if (!number(&n) || n < 512 || n % 512 != 0 || n > (1u << 20)) {
        return UsageError("--torn-unit needs a multiple of 512 bytes up to 1 MiB, got '" + v + "'");
      }
      co.states.torn_unit = n / 512;
    } else if (k == "--from-mark") co.from_mark = v;
    else if (k == "--workdir") co.workdir = v;
    else if (k == "--json") co.json = true;
    else if (k == "--live") co.scan_past_super = true;
    else return UsageError("unknown check option " + k);
  }
  if (co.command.empty()) return UsageError("check needs --fsck 'CMD {}'");
  return RunCheck(co);
}

int Dump(const Args& a) {
  if (a.positional.size() != 1) return UsageError("dump takes LOG");
  ParseOptions po;
  for (const auto& [k, v] : a.options) {
    if (k == "--live") po.scan_past_super = true;
    else return UsageError("unknown dump option " + k);
  }
  auto log = ParseLogFile(a.positional[0], po);
  if (!log) return InputError(log.error());
  fmt::print("log version={}, sectorsize={}, entries={} (super: {})\n", logwrites::kVersion,
             log->sectorsize, log->entries.size(), log->super_entries);
  for (const LogEntry& e : log->entries) fmt::print("{}\n", DescribeEntry(e));
  return 0;
}

}  // namespace
}  // namespace udm::crash

int main(int argc, char** argv) {
  using namespace udm::crash;
  if (argc < 2 || std::strcmp(argv[1], "--help") == 0 || std::strcmp(argv[1], "-h") == 0) {
    fmt::print(argc < 2 ? stderr : stdout, "{}", kUsage);
    return argc < 2 ? 2 : 0;
  }
  auto args = Split(argc, argv);
  if (!args) return UsageError(args.error().message);
  const std::string cmd = argv[1];
  if (cmd == "replay") return Replay(*args);
  if (cmd == "check") return Check(*args);
  if (cmd == "dump") return Dump(*args);
  return UsageError("unknown command '" + cmd + "'");
}
