// ControlHandler: protocol methods -> VolumeManager calls -> JSON.
#include "udmd/control_handler.h"

#include <map>

namespace udm::daemon {

using nlohmann::json;

namespace {

std::string StateName(SuspendState s) {
  switch (s) {
    case SuspendState::kActive: return "ACTIVE";
    case SuspendState::kSuspending: return "SUSPENDING";
    case SuspendState::kSuspended: return "SUSPENDED";
  }
  return "UNKNOWN";
}

// Typed access to request parameters; errors name the parameter.
class Params {
 public:
  explicit Params(const json& p) : p_(p) {}

  Result<std::string> String(const char* key) const {
    if (!p_.is_object() || !p_.contains(key)) return InvalidArgument("missing parameter '{}'", key);
    if (!p_[key].is_string()) return InvalidArgument("parameter '{}' must be a string", key);
    return p_[key].get<std::string>();
  }
  std::optional<std::string> OptString(const char* key) const {
    if (!p_.is_object() || !p_.contains(key) || !p_[key].is_string()) return std::nullopt;
    return p_[key].get<std::string>();
  }
  Result<bool> Bool(const char* key) const {
    if (!p_.is_object() || !p_.contains(key) || p_[key].is_null()) return false;
    if (!p_[key].is_boolean()) return InvalidArgument("parameter '{}' must be true or false", key);
    return p_[key].get<bool>();
  }
  Result<std::optional<uint64_t>> U64(const char* key) const {
    if (!p_.is_object() || !p_.contains(key) || p_[key].is_null()) return std::optional<uint64_t>();
    if (!p_[key].is_number_unsigned() && !(p_[key].is_number_integer() && p_[key].get<int64_t>() >= 0)) {
      return InvalidArgument("parameter '{}' must be an unsigned integer", key);
    }
    return std::optional<uint64_t>(p_[key].get<uint64_t>());
  }
  bool Has(const char* key) const { return p_.is_object() && p_.contains(key) && !p_[key].is_null(); }
  const json& Raw(const char* key) const { return p_[key]; }

 private:
  const json& p_;
};

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
         {"path", i.path}};
  if (!i.restore_error.empty()) j["restore_error"] = i.restore_error;
  return j;
}

json StatsJson(const StatsSnapshot& s) {
  json barriers = json::array();
  for (const auto& b : s.inflight_barriers) {
    barriers.push_back({{"id", b.id},
                        {"ordered", b.ordered},
                        {"phase", std::string(BarrierPhaseName(b.phase))},
                        {"age_us", b.age_us}});
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
              {"requeues", s.requeues},
              {"in_flight", s.in_flight},
              {"deferred", s.deferred},
              {"barrier_latency_us",
               {{"count", s.barrier_latency.count},
                {"p50", s.barrier_latency.p50_us},
                {"p90", s.barrier_latency.p90_us},
                {"p99", s.barrier_latency.p99_us},
                {"max", s.barrier_latency.max_us}}},
              {"inflight_barriers", barriers},
              {"event_nr", s.event_nr}};
}

namespace {

using Method = Result<json> (*)(VolumeManager&, const TargetRegistry&, const Params&);

template <typename T>
Result<json> AsInfo(Result<T> r) {
  if (!r) return std::unexpected(r.error());
  return InfoJson(*r);
}

Result<json> DoVersion(VolumeManager&, const TargetRegistry&, const Params&) {
  return json{{"version", "0.1.0"}, {"protocol", 1}};
}

Result<json> DoTargets(VolumeManager&, const TargetRegistry& reg, const Params&) {
  json out = json::array();
  for (const TargetType* t : reg.List()) {
    out.push_back({{"name", std::string(t->name)},
                   {"version", {t->version.major, t->version.minor, t->version.patch}}});
  }
  return out;
}

Result<json> DoCreate(VolumeManager& v, const TargetRegistry&, const Params& p) {
  CreateParams c;
  auto name = p.String("name");
  if (!name) return std::unexpected(name.error());
  c.name = *name;
  c.uuid = p.OptString("uuid").value_or("");
  c.table = p.OptString("table");
  auto ro = p.Bool("read_only");
  if (!ro) return std::unexpected(ro.error());
  c.read_only = *ro;
  if (auto mode = p.OptString("barriers")) {
    auto m = ParseBarrierMode(*mode);
    if (!m) return std::unexpected(m.error());
    c.barriers = *m;
  }
  return AsInfo(v.Create(c));
}

Result<json> DoLoad(VolumeManager& v, const TargetRegistry&, const Params& p) {
  auto name = p.String("name");
  auto table = p.String("table");
  if (!name) return std::unexpected(name.error());
  if (!table) return std::unexpected(table.error());
  return AsInfo(v.Load(*name, *table));
}

Result<json> DoClear(VolumeManager& v, const TargetRegistry&, const Params& p) {
  auto name = p.String("name");
  if (!name) return std::unexpected(name.error());
  return AsInfo(v.Clear(*name));
}

Result<json> DoSuspend(VolumeManager& v, const TargetRegistry&, const Params& p) {
  auto name = p.String("name");
  auto noflush = p.Bool("noflush");
  if (!name) return std::unexpected(name.error());
  if (!noflush) return std::unexpected(noflush.error());
  return AsInfo(v.Suspend(*name, *noflush));
}

Result<json> DoResume(VolumeManager& v, const TargetRegistry&, const Params& p) {
  auto name = p.String("name");
  if (!name) return std::unexpected(name.error());
  return AsInfo(v.Resume(*name));
}

Result<json> DoRemove(VolumeManager& v, const TargetRegistry&, const Params& p) {
  auto name = p.String("name");
  auto force = p.Bool("force");
  if (!name) return std::unexpected(name.error());
  if (!force) return std::unexpected(force.error());
  if (auto st = v.Remove(*name, *force); !st) return std::unexpected(st.error());
  return json::object();
}

Result<json> DoRename(VolumeManager& v, const TargetRegistry&, const Params& p) {
  auto name = p.String("name");
  auto new_name = p.String("new_name");
  if (!name) return std::unexpected(name.error());
  if (!new_name) return std::unexpected(new_name.error());
  return AsInfo(v.Rename(*name, *new_name));
}

Result<json> TableOrStatus(VolumeManager& v, const Params& p, StatusType type) {
  auto name = p.String("name");
  auto inactive = p.Bool("inactive");
  if (!name) return std::unexpected(name.error());
  if (!inactive) return std::unexpected(inactive.error());
  auto lines = v.Lines(*name, *inactive, type, p.OptString("target").value_or(""));
  if (!lines) return std::unexpected(lines.error());
  return Lines(*lines);
}

Result<json> DoTable(VolumeManager& v, const TargetRegistry&, const Params& p) {
  return TableOrStatus(v, p, StatusType::kTable);
}

Result<json> DoStatus(VolumeManager& v, const TargetRegistry&, const Params& p) {
  return TableOrStatus(v, p, StatusType::kInfo);
}

Result<json> DoInfo(VolumeManager& v, const TargetRegistry&, const Params& p) {
  if (!p.Has("name")) {
    json out = json::array();
    for (const auto& i : v.InfoAll()) out.push_back(InfoJson(i));
    return out;
  }
  auto name = p.String("name");
  if (!name) return std::unexpected(name.error());
  return AsInfo(v.Info(*name));
}

Result<json> DoLs(VolumeManager& v, const TargetRegistry&, const Params&) {
  json out = json::array();
  for (const auto& i : v.InfoAll()) {
    out.push_back({{"name", i.name}, {"uuid", i.uuid}, {"sectors", i.sectors}, {"path", i.path}});
  }
  return out;
}

Result<json> DoDeps(VolumeManager& v, const TargetRegistry&, const Params& p) {
  auto name = p.String("name");
  if (!name) return std::unexpected(name.error());
  auto deps = v.Deps(*name);
  if (!deps) return std::unexpected(deps.error());
  return json{{"devices", *deps}};
}

Result<json> DoMessage(VolumeManager& v, const TargetRegistry&, const Params& p) {
  auto name = p.String("name");
  if (!name) return std::unexpected(name.error());
  auto sector = p.U64("sector");
  if (!sector) return std::unexpected(sector.error());
  if (!*sector) return InvalidArgument("missing parameter 'sector'");
  if (!p.Has("args") || !p.Raw("args").is_array() || p.Raw("args").empty()) {
    return InvalidArgument("parameter 'args' must be a non-empty array of strings");
  }
  std::vector<std::string> args;
  for (const auto& a : p.Raw("args")) {
    if (!a.is_string()) return InvalidArgument("parameter 'args' must be a non-empty array of strings");
    args.push_back(a.get<std::string>());
  }
  auto reply = v.Message(*name, **sector, args);
  if (!reply) return std::unexpected(reply.error());
  return json{{"reply", *reply}};
}

Result<json> DoStats(VolumeManager& v, const TargetRegistry&, const Params& p) {
  auto name = p.String("name");
  if (!name) return std::unexpected(name.error());
  auto s = v.Stats(*name);
  if (!s) return std::unexpected(s.error());
  json j = StatsJson(*s);
  j["name"] = *name;
  return j;
}

Result<json> DoEvents(VolumeManager& v, const TargetRegistry&, const Params& p) {
  auto name = p.String("name");
  if (!name) return std::unexpected(name.error());
  auto limit = p.U64("limit");
  if (!limit) return std::unexpected(limit.error());
  auto events = v.Events(*name, limit->value_or(100));
  if (!events) return std::unexpected(events.error());
  json out = json::array();
  for (const auto& e : *events) {
    out.push_back({{"time", e.time}, {"kind", e.kind}, {"detail", e.detail}});
  }
  return out;
}

Result<json> DoWait(VolumeManager& v, const TargetRegistry&, const Params& p) {
  auto name = p.String("name");
  if (!name) return std::unexpected(name.error());
  auto event = p.U64("event");
  if (!event) return std::unexpected(event.error());
  uint64_t after = 0;
  if (*event) {
    after = **event;
  } else {
    auto info = v.Info(*name);
    if (!info) return std::unexpected(info.error());
    after = info->event_nr;
  }
  return AsInfo(v.Wait(*name, after, [] { return RequestCancelled(); }));
}

const std::map<std::string, Method, std::less<>>& Methods() {
  static const std::map<std::string, Method, std::less<>> m{
      {"version", DoVersion}, {"targets", DoTargets}, {"create", DoCreate},   {"load", DoLoad},
      {"clear", DoClear},     {"suspend", DoSuspend}, {"resume", DoResume},   {"remove", DoRemove},
      {"rename", DoRename},   {"table", DoTable},     {"status", DoStatus},   {"info", DoInfo},
      {"ls", DoLs},           {"deps", DoDeps},       {"message", DoMessage}, {"stats", DoStats},
      {"events", DoEvents},   {"wait", DoWait},
  };
  return m;
}

}  // namespace

Result<json> ControlHandler::Handle(const std::string& method, const json& params) {
  auto it = Methods().find(method);
  if (it == Methods().end()) {
    return Fail(ErrorCode::kUnsupported, EINVAL, "unknown method '{}'", method);
  }
  if (!params.is_null() && !params.is_object()) return InvalidArgument("params must be an object");
  static const json kEmpty = json::object();
  return it->second(volumes_, registry_, Params(params.is_null() ? kEmpty : params));
}

json ControlHandler::Snapshot() {
  json vols = json::array();
  for (const auto& info : volumes_.InfoAll()) {
    json j = InfoJson(info);
    if (auto s = volumes_.Stats(info.name)) j.update(StatsJson(*s));
    vols.push_back(std::move(j));
  }
  return json{{"volumes", vols}};
}

}  // namespace udm::daemon
