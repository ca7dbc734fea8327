// ControlHandler: protocol methods -> VolumeManager calls -> JSON.
#include "udmd/control_handler.h"

#include <cctype>
#include <map>

#include "control/params.h"
#include "control/protocol.h"

namespace udm::daemon {

using nlohmann::json;

namespace {

// The protocol spells states in capitals, like dmsetup's State: line.
std::string StateName(SuspendState s) {
  std::string name(SuspendStateName(s));
  for (char& c : name) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
  return name;
}

json Lines(const std::vector<std::string>& lines) { return json{{"lines", lines}}; }

}  // namespace

json InfoJson(const VolumeInfo& i) {
  json j{{"name", i.name},
         {"uuid", i.uuid},
         {"state", StateName(i.state)},
         {"read_only", i.read_only},
         {"barriers", std::string(BarrierModeName(i.barriers))},
         {"live_table", i.live_table},
         {"inactive_table", i.inactive_table},
         {"open_count", i.open_count},
         {"event_nr", i.event_nr},
         {"num_targets", i.num_targets},
         {"sectors", i.sectors},
         {"path", i.path},
         {"errors", i.errors},
         {"last_error", i.last_error}};
  if (!i.restore_error.empty()) j["restore_error"] = i.restore_error;
  return j;
}

json StatsJson(const StatsSnapshot& s) {
  json barriers = json::array();
  for (const auto& b : s.inflight_barriers) {
    barriers.push_back({{"id", b.id},
                        {"ordered", b.ordered},
                        {"phase", std::string(BarrierPhaseName(b.phase))},
                        {"age_us", b.age_us},
                        {"waiters", b.waiters}});
  }
  json histogram = json::array();
  for (const auto& h : s.barrier_latency_histogram) {
    histogram.push_back({{"le_us", h.le_us}, {"count", h.count}});
  }
  return json{{"state", StateName(s.suspend_state)},
              {"reads", s.reads},
              {"writes", s.writes},
              {"flushes", s.flushes},
              {"barriers", s.barriers},
              {"discards", s.discards},
              {"write_zeroes", s.write_zeroes},
              {"read_bytes", s.read_bytes},
              {"write_bytes", s.write_bytes},
              {"errors", s.errors},
              {"last_error", s.last_error},
              {"requeues", s.requeues},
              {"in_flight", s.in_flight},
              {"deferred", s.deferred},
              {"barrier_latency_us",
               {{"count", s.barrier_latency.count},
                {"p50", s.barrier_latency.p50_us},
                {"p90", s.barrier_latency.p90_us},
                {"p99", s.barrier_latency.p99_us},
                {"max", s.barrier_latency.max_us}}},
              {"barrier_latency_histogram", histogram},
              {"inflight_barriers", barriers},
              {"event_nr", s.event_nr}};
}

namespace {

// Params arrive checked against the method table (control/params.h).
using Method = Result<json> (*)(VolumeManager&, const TargetRegistry&, const json&);

template <typename T>
Result<json> AsInfo(Result<T> r) {
  if (!r) return std::unexpected(r.error());
  return InfoJson(*r);
}

template <typename T, typename Fn>
Result<json> As(Result<T> r, Fn fn) {
  if (!r) return std::unexpected(r.error());
  return fn(*r);
}

Result<json> DoVersion(VolumeManager&, const TargetRegistry&, const json&) {
  return json{{"version", "0.1.0"}, {"protocol", 1}};
}

Result<json> DoTargets(VolumeManager&, const TargetRegistry& reg, const json&) {
  json out = json::array();
  for (const TargetType* t : reg.List()) {
    out.push_back({{"name", std::string(t->name)},
                   {"version", {t->version.major, t->version.minor, t->version.patch}}});
  }
  return out;
}

Result<json> DoCreate(VolumeManager& v, const TargetRegistry&, const json& p) {
  CreateParams c;
  c.name = StringParam(p, "name");
  c.uuid = StringParam(p, "uuid");
  c.table = OptionalStringParam(p, "table");
  c.read_only = BoolParam(p, "read_only");
  c.barriers = ParseBarrierMode(StringParam(p, "barriers", "flush")).value_or(BarrierMode::kFlush);
  return AsInfo(v.Create(c));
}

Result<json> DoLoad(VolumeManager& v, const TargetRegistry&, const json& p) {
  return AsInfo(v.Load(StringParam(p, "name"), StringParam(p, "table")));
}

Result<json> DoClear(VolumeManager& v, const TargetRegistry&, const json& p) {
  return AsInfo(v.Clear(StringParam(p, "name")));
}

Result<json> DoSuspend(VolumeManager& v, const TargetRegistry&, const json& p) {
  return AsInfo(v.Suspend(StringParam(p, "name"), BoolParam(p, "noflush")));
}

Result<json> DoResume(VolumeManager& v, const TargetRegistry&, const json& p) {
  return AsInfo(v.Resume(StringParam(p, "name")));
}

Result<json> DoRemove(VolumeManager& v, const TargetRegistry&, const json& p) {
  if (auto st = v.Remove(StringParam(p, "name"), BoolParam(p, "force")); !st) {
    return std::unexpected(st.error());
  }
  return json::object();
}

Result<json> DoRename(VolumeManager& v, const TargetRegistry&, const json& p) {
  return AsInfo(v.Rename(StringParam(p, "name"), StringParam(p, "new_name")));
}

Result<json> TableOrStatus(VolumeManager& v, const json& p, StatusType type) {
  return As(v.Lines(StringParam(p, "name"), BoolParam(p, "inactive"), type, StringParam(p, "target")),
            [](const auto& lines) { return Lines(lines); });
}

Result<json> DoTable(VolumeManager& v, const TargetRegistry&, const json& p) {
  return TableOrStatus(v, p, StatusType::kTable);
}

Result<json> DoStatus(VolumeManager& v, const TargetRegistry&, const json& p) {
  return TableOrStatus(v, p, StatusType::kInfo);
}

Result<json> DoInfo(VolumeManager& v, const TargetRegistry&, const json& p) {
  if (auto name = OptionalStringParam(p, "name")) return AsInfo(v.Info(*name));
  json out = json::array();
  for (const auto& i : v.InfoAll()) out.push_back(InfoJson(i));
  return out;
}

Result<json> DoLs(VolumeManager& v, const TargetRegistry&, const json&) {
  json out = json::array();
  for (const auto& i : v.InfoAll()) {
    out.push_back({{"name", i.name}, {"uuid", i.uuid}, {"sectors", i.sectors}, {"path", i.path}});
  }
  return out;
}

Result<json> DoDeps(VolumeManager& v, const TargetRegistry&, const json& p) {
  return As(v.Deps(StringParam(p, "name")), [](const auto& d) { return json{{"devices", d}}; });
}

Result<json> DoMessage(VolumeManager& v, const TargetRegistry&, const json& p) {
  return As(v.Message(StringParam(p, "name"), UintParam(p, "sector"), StringArrayParam(p, "args")),
            [](const std::string& reply) { return json{{"reply", reply}}; });
}

Result<json> DoStats(VolumeManager& v, const TargetRegistry&, const json& p) {
  const std::string name = StringParam(p, "name");
  return As(v.Stats(name), [&](const StatsSnapshot& s) {
    json j = StatsJson(s);
    j["name"] = name;
    return j;
  });
}

Result<json> DoEvents(VolumeManager& v, const TargetRegistry&, const json& p) {
  return As(v.Events(StringParam(p, "name"), UintParam(p, "limit", 100)), [](const auto& events) {
    json out = json::array();
    for (const auto& e : events) out.push_back({{"time", e.time}, {"kind", e.kind}, {"detail", e.detail}});
    return out;
  });
}

Result<json> DoWait(VolumeManager& v, const TargetRegistry&, const json& p) {
  const std::string name = StringParam(p, "name");
  std::optional<uint64_t> after = OptionalUintParam(p, "event");
  if (!after) {
    auto info = v.Info(name);
    if (!info) return std::unexpected(info.error());
    after = info->event_nr;
  }
  return AsInfo(v.Wait(name, *after, [] { return RequestCancelled(); }));
}

// How the mount relates to a command: kSettles commands change what the
// mount shows (a file, its size, its name), so their answer waits until the
// mount shows it.
enum class Mount : bool { kUnchanged, kSettles };

struct Command {
  Method run;
  Mount mount;
};

const std::map<std::string, Command, std::less<>>& Handlers() {
  using enum Mount;
  static const std::map<std::string, Command, std::less<>> m{
      {"version", {DoVersion, kUnchanged}}, {"targets", {DoTargets, kUnchanged}},
      {"create", {DoCreate, kSettles}},     {"load", {DoLoad, kUnchanged}},
      {"clear", {DoClear, kUnchanged}},     {"suspend", {DoSuspend, kUnchanged}},
      {"resume", {DoResume, kSettles}},     {"remove", {DoRemove, kSettles}},
      {"rename", {DoRename, kSettles}},     {"table", {DoTable, kUnchanged}},
      {"status", {DoStatus, kUnchanged}},   {"info", {DoInfo, kUnchanged}},
      {"ls", {DoLs, kUnchanged}},           {"deps", {DoDeps, kUnchanged}},
      {"message", {DoMessage, kUnchanged}}, {"stats", {DoStats, kUnchanged}},
      {"events", {DoEvents, kUnchanged}},   {"wait", {DoWait, kUnchanged}},
  };
  return m;
}

}  // namespace

Result<json> ControlHandler::Handle(const std::string& method, const json& params) {
  auto it = Handlers().find(method);
  if (it == Handlers().end()) {
    return Fail(ErrorCode::kUnsupported, EINVAL, "unknown method '{}'", method);
  }
  // The server checked `params` against control/params.h; check again for
  // callers that did not come through it.
  if (auto st = ValidateParams(method, params); !st) return std::unexpected(st.error());
  static const json kEmpty = json::object();
  const Command& command = it->second;
  auto result = command.run(volumes_, registry_, params.is_null() ? kEmpty : params);
  if (command.mount == Mount::kSettles) volumes_.SettleChanges();
  return result;
}

json ControlHandler::Snapshot() {
  json vols = json::array();
  const auto infos = volumes_.InfoAll();
  for (const auto& info : infos) {
    json j = InfoJson(info);
    if (auto s = volumes_.Stats(info.name)) {
      // Info's "barriers" is the mode and Stats' the completed count; the
      // merged object keeps the mode and names the count apart.
      json stats = StatsJson(*s);
      stats["barriers_completed"] = stats["barriers"];
      stats.erase("barriers");
      j.update(stats);
    }
    vols.push_back(std::move(j));
  }
  // The time belongs to the counters just read, which watchers turn into
  // rates. Status lines come after it: a target's resume (a mirror's log
  // I/O) holds them up, and that wait must not stretch the time.
  const int64_t time_ms = NowUnixMs();
  for (size_t i = 0; i < infos.size(); ++i) {
    // Each live target's status line ("<start> <len> <type> <info>"), so a
    // watcher sees resync progress and failed legs without polling.
    auto status = volumes_.Lines(infos[i].name, false, StatusType::kInfo, "");
    vols[i]["status"] = status ? json(*status) : json::array();
  }
  return json{{"time_ms", time_ms}, {"volumes", vols}};
}

}  // namespace udm::daemon
