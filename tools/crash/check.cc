// RunCheck: parse and validate the inputs, enumerate states, check them
// with `jobs` workers over one FUSE directory, shrink the first failure and
// print the report as text or JSON.
#include "check.h"

#include <signal.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <memory>
#include <mutex>
#include <thread>
#include <vector>

#include <fmt/core.h>
#include <nlohmann/json.hpp>

#include "checker.h"
#include "overlay_device.h"
#include "shrink.h"
#include "state_mount.h"
#include "udm/targets/log_writes_format.h"

namespace udm::crash {
namespace {

// Set by SIGINT/SIGTERM/SIGHUP: no new checker starts, the FUSE directory
// is unmounted on the way out.
std::atomic<bool> g_interrupted{false};

void OnSignal(int) { g_interrupted.store(true); }

void CatchSignals() {
  struct sigaction sa {};
  sa.sa_handler = OnSignal;
  sigemptyset(&sa.sa_mask);
  for (int sig : {SIGINT, SIGTERM, SIGHUP}) sigaction(sig, &sa, nullptr);
}

struct Inputs {
  std::shared_ptr<const ParsedLog> log;
  std::shared_ptr<const BaseImage> base;
  StateOptions states;
};

Result<Inputs> LoadInputs(const CheckOptions& opts) {
  if (auto st = ValidateCheckerCommand(opts.command); !st) return std::unexpected(st.error());
  auto log = ParseLogFile(opts.log_path, ParseOptions{opts.scan_past_super});
  if (!log) return std::unexpected(log.error());
  auto base = BaseImage::Open(opts.base_path);
  if (!base) return std::unexpected(base.error());
  for (const LogEntry& e : log->entries) {
    if (e.is_write() && e.sector + e.nr_sectors > (*base)->sectors()) {
      return InvalidArgument("{} ends past the {}-sector base image {}", DescribeEntry(e),
                             (*base)->sectors(), opts.base_path);
    }
  }
  Inputs in;
  in.states = opts.states;
  if (opts.from_mark) {
    const int64_t at = log->FindMark(*opts.from_mark);
    if (at < 0) return InvalidArgument("mark '{}' is not in the log {}", *opts.from_mark,
                                       opts.log_path);
    in.states.first_entry = static_cast<uint64_t>(at) + 1;
  }
  in.log = std::make_shared<const ParsedLog>(std::move(*log));
  in.base = std::move(*base);
  return in;
}

// Materialises `s` as a file, runs the checker on it, takes the file away.
Result<CheckerResult> CheckOne(const Inputs& in, StateMount& mount, const CheckOptions& opts,
                               const CrashState& s, const std::string& name) {
  auto image = StateImage::Build(in.log, in.base, s);
  if (!image) return std::unexpected(image.error());
  auto dev = std::make_shared<OverlayDevice>(name + "-overlay", std::move(*image));
  auto path = mount.Add(name, dev);
  if (!path) return std::unexpected(path.error());
  CheckerResult r = RunChecker(opts.command, *path);
  mount.Remove(name);
  return r;
}

class Progress {
 public:
  explicit Progress(uint64_t total) : total_(total), tty_(::isatty(2) == 1) {
    thread_ = std::thread([this] { Loop(); });
  }
  ~Progress() {
    {
      std::lock_guard<std::mutex> g(mu_);
      stop_ = true;
    }
    cv_.notify_all();
    thread_.join();
    Print(true);
  }
  void Done(bool failed) {
    done_.fetch_add(1);
    if (failed) failed_.fetch_add(1);
  }

 private:
  void Loop() {
    std::unique_lock<std::mutex> l(mu_);
    const auto period = tty_ ? std::chrono::milliseconds(200) : std::chrono::seconds(10);
    while (!cv_.wait_for(l, period, [&] { return stop_; })) Print(false);
  }
  void Print(bool last) {
    const uint64_t done = done_.load(), failed = failed_.load();
    if (tty_) {
      const uint64_t width = 30, fill = total_ ? done * width / total_ : width;
      fmt::print(stderr, "\r[{}{}] {}/{} states, {} failing{}", std::string(fill, '#'),
                 std::string(width - fill, ' '), done, total_, failed, last ? "\n" : "");
    } else {
      fmt::print(stderr, "udm-crash: {}/{} states checked, {} failing\n", done, total_, failed);
    }
  }

  const uint64_t total_;
  const bool tty_;
  std::atomic<uint64_t> done_{0}, failed_{0};
  std::mutex mu_;
  std::condition_variable cv_;
  bool stop_ = false;  // guarded by mu_
  std::thread thread_;
};

nlohmann::json PiecesJson(const ParsedLog& log, const CrashState& s) {
  nlohmann::json arr = nlohmann::json::array();
  for (const Piece& p : s.extra) {
    const LogEntry& e = log.entries[p.entry];
    nlohmann::json j{{"entry", e.index},
                     {"sector", e.sector},
                     {"sectors", e.nr_sectors},
                     {"flags", logwrites::FlagsString(e.flags)}};
    if (p.sectors != 0) j["torn_after_sectors"] = p.sectors;
    arr.push_back(std::move(j));
  }
  return arr;
}

nlohmann::json StateJson(const ParsedLog& log, const CrashState& s) {
  return {{"id", s.id},           {"kind", s.kind},
          {"crash_point", s.crash_point}, {"prefix_entries", s.prefix},
          {"writes", PiecesJson(log, s)}};
}

}  // namespace

int RunCheck(const CheckOptions& opts) {
  auto in = LoadInputs(opts);
  if (!in) {
    fmt::print(stderr, "udm-crash: {}\n", in.error().message);
    return 2;
  }
  const ParsedLog& log = *in->log;
  const std::vector<CrashState> states = EnumerateStates(log, in->states);
  CatchSignals();
  auto mount = StateMount::Create(opts.workdir);
  if (!mount) {
    fmt::print(stderr, "udm-crash: {}\n", mount.error().message);
    return 2;
  }

  std::vector<std::optional<CheckerResult>> results(states.size());
  std::atomic<size_t> next{0};
  std::atomic<bool> stop{false};
  std::mutex err_mu;
  std::optional<Error> error;  // guarded by err_mu
  {
    Progress progress(states.size());
    std::vector<std::thread> workers;
    for (unsigned w = 0; w < std::max(1u, opts.jobs); ++w) {
      workers.emplace_back([&] {
        while (!stop.load() && !g_interrupted.load()) {
          const size_t i = next.fetch_add(1);
          if (i >= states.size()) return;
          auto r = CheckOne(*in, **mount, opts, states[i], fmt::format("state-{}", i));
          if (!r) {
            std::lock_guard<std::mutex> g(err_mu);
            error = r.error();
            stop.store(true);
            return;
          }
          progress.Done(!r->ok());
          if (!r->ok()) stop.store(true);  // report the first; shrink it below
          results[i] = std::move(*r);
        }
      });
    }
    for (auto& t : workers) t.join();
  }
  if (error) {
    fmt::print(stderr, "udm-crash: {}\n", error->message);
    return 2;
  }
  if (g_interrupted.load()) {
    fmt::print(stderr, "udm-crash: interrupted\n");
    return 2;
  }

  size_t checked = 0;
  std::optional<size_t> failing;
  for (size_t i = 0; i < results.size(); ++i) {
    if (!results[i]) continue;
    ++checked;
    if (!results[i]->ok() && !failing) failing = i;
  }
  nlohmann::json report{{"log", opts.log_path},        {"base", opts.base_path},
                        {"entries", log.entries.size()}, {"states_total", states.size()},
                        {"states_checked", checked},     {"result", failing ? "failing" : "clean"}};
  if (!failing) {
    if (opts.json) fmt::print("{}\n", report.dump(2));
    else fmt::print("udm-crash: all {} crash states passed ({} log entries)\n", checked,
                    log.entries.size());
    return 0;
  }

  const CrashState& bad = states[*failing];
  uint64_t runs = 0;
  auto fails = [&](const CrashState& s) {
    if (g_interrupted.load()) return false;
    auto r = CheckOne(*in, **mount, opts, s, fmt::format("shrink-{}", runs++));
    return r && !r->ok();
  };
  CrashState minimal = ShrinkState(ExpandEpoch(log, bad, in->states.first_entry), fails);
  minimal.kind = "minimal";
  // Every write of the epoch that had completed at the crash point and is
  // not in the minimal set.
  CrashState cut;
  cut.kind = "prefix";
  cut.prefix = bad.crash_point + 1;
  std::vector<uint64_t> omitted;
  for (const Piece& p : ExpandEpoch(log, cut, in->states.first_entry).extra) {
    bool kept = false;
    for (const Piece& q : minimal.extra) kept |= q.entry == p.entry;
    if (!kept) omitted.push_back(p.entry);
  }
  const CheckerResult& r = *results[*failing];
  if (opts.json) {
    report["failing"] = StateJson(log, bad);
    report["failing"]["checker_exit"] = r.exit_code;
    report["failing"]["checker_output"] = r.output;
    report["minimal"] = StateJson(log, minimal);
    report["minimal"]["omitted_entries"] = omitted;
    report["minimal"]["shrink_runs"] = runs;
    fmt::print("{}\n", report.dump(2));
    return 1;
  }
  fmt::print("udm-crash: FAILING {}\n", DescribeState(log, bad));
  fmt::print("checker exited {}; its output:\n{}\n", r.exit_code, r.output);
  fmt::print("minimal failing state ({} checker runs): {}\n", runs, DescribeState(log, minimal));
  if (!omitted.empty()) {
    std::string list;
    for (uint64_t e : omitted) list += fmt::format("{}{}", list.empty() ? "" : ", ", e);
    fmt::print("  (entries of that epoch left out: {})\n", list);
  }
  return 1;
}

}  // namespace udm::crash
