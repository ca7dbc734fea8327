// EnumerateStates: prefix states at every flush/FUA, then per crash point
// the subsets and reorderings of the epoch's completed writes and torn
// versions of them, within a budget, sampled with a seeded generator.
#include "crash_states.h"

#include <fmt/core.h>

#include <algorithm>
#include <random>
#include <set>
#include <sstream>

#include "udm/targets/log_writes_format.h"

namespace udm::crash {
namespace {

// A crash point: the epoch's first entry and the last completed entry.
struct Cut {
  uint64_t start = 0;
  uint64_t at = 0;
};

// The epoch (first entry) that entry `i` belongs to: after the last flush
// before it.
uint64_t EpochStart(const ParsedLog& log, uint64_t i) {
  while (i > 0 && !log.entries[i - 1].is_flush()) --i;
  return i;
}

// The completed writes of a cut, FUA ones required.
std::vector<Piece> CutWrites(const ParsedLog& log, const Cut& c) {
  std::vector<Piece> w;
  for (uint64_t i = c.start; i <= c.at; ++i) {
    const LogEntry& e = log.entries[i];
    if (e.is_write()) w.push_back(Piece{i, 0, !e.is_fua()});
  }
  return w;
}

std::string Key(const CrashState& s) {
  std::string k = std::to_string(s.prefix);
  for (const Piece& p : s.extra) k += fmt::format(",{}:{}", p.entry, p.sectors);
  return k;
}

bool Overlap(const LogEntry& a, const LogEntry& b) {
  return a.sector < b.sector + b.nr_sectors && b.sector < a.sector + a.nr_sectors;
}

class Generator {
 public:
  Generator(const ParsedLog& log, const StateOptions& opts)
      : log_(log), opts_(opts), rng_(opts.seed) {}

  std::vector<CrashState> Run() {
    const uint64_t n = log_.entries.size();
    if (n == 0 || opts_.first_entry > n) {
      if (opts_.kinds & kPrefixes) AddPrefix(std::min(opts_.first_entry, n));
      return std::move(out_);
    }
    std::vector<Cut> cuts;
    for (uint64_t i = opts_.first_entry; i < n; ++i) {
      const LogEntry& e = log_.entries[i];
      if (!(e.is_flush() || e.is_fua() || i + 1 == n)) continue;
      // Everything before first_entry is applied whole.
      cuts.push_back({std::max(EpochStart(log_, i), opts_.first_entry), i});
    }
    if (opts_.kinds & kPrefixes) Prefixes(cuts);
    const bool both = (opts_.kinds & kEpochSubsets) && (opts_.kinds & kTorn);
    if (opts_.kinds & kEpochSubsets) Spread(cuts, both ? 2 : 1, &Generator::Subsets);
    if (opts_.kinds & kTorn) Spread(cuts, 1, &Generator::Torn);
    return std::move(out_);
  }

 private:
  uint64_t left() const { return opts_.max_states - std::min(opts_.max_states, out_.size()); }

  bool Add(CrashState s) {
    if (left() == 0) return false;
    if (!seen_.insert(Key(ExpandEpoch(log_, s, opts_.first_entry))).second) return true;
    s.id = out_.size();
    out_.push_back(std::move(s));
    return true;
  }

  void AddPrefix(uint64_t p) {
    CrashState s;
    s.kind = "prefix";
    s.prefix = p;
    s.crash_point = p == 0 ? 0 : p - 1;
    Add(std::move(s));
  }

  void Prefixes(const std::vector<Cut>& cuts) {
    if (opts_.first_entry > 0) AddPrefix(opts_.first_entry);
    const uint64_t budget = std::max<uint64_t>(left(), 1);
    // Evenly spaced when there are more than the budget; the last always.
    for (uint64_t k = 0; k < budget && k < cuts.size(); ++k) {
      const uint64_t idx = cuts.size() <= budget ? k : (k + 1) * cuts.size() / budget - 1;
      AddPrefix(cuts[idx].at + 1);
    }
  }

  // Gives each cut an equal share of `1/parts` of what is left.
  void Spread(const std::vector<Cut>& cuts, uint64_t parts,
              void (Generator::*fn)(const Cut&, uint64_t)) {
    if (cuts.empty()) return;
    const uint64_t total = left() / parts;
    const uint64_t stop_at = left() - total;
    for (size_t i = 0; i < cuts.size() && left() > stop_at; ++i) {
      const uint64_t quota = std::max<uint64_t>(1, (left() - stop_at) / (cuts.size() - i));
      (this->*fn)(cuts[i], quota);
    }
  }

  CrashState Make(const Cut& c, const char* kind, std::vector<Piece> extra) {
    CrashState s;
    s.kind = kind;
    s.crash_point = c.at;
    s.prefix = c.start;
    s.extra = std::move(extra);
    return s;
  }

  // Keeps the required pieces of `w` and those optional ones `keep` selects.
  static std::vector<Piece> Pick(const std::vector<Piece>& w, const std::vector<bool>& keep) {
    std::vector<Piece> out;
    for (size_t i = 0, k = 0; i < w.size(); ++i) {
      if (!w[i].optional || keep[k]) out.push_back(w[i]);
      if (w[i].optional) ++k;
    }
    return out;
  }

  void Subsets(const Cut& c, uint64_t quota) {
    const std::vector<Piece> w = CutWrites(log_, c);
    const size_t n = std::count_if(w.begin(), w.end(), [](const Piece& p) { return p.optional; });
    if (n == 0) return;
    const uint64_t limit = out_.size() + quota;
    auto emit = [&](const std::vector<bool>& keep) {
      if (out_.size() >= limit) return false;
      std::vector<Piece> pieces = Pick(w, keep);
      if (!Add(Make(c, "subset", pieces))) return false;
      MaybeReorder(c, std::move(pieces), limit);
      return true;
    };
    if (n <= 6) {
      for (uint64_t mask = 0; mask + 1 < (1ull << n); ++mask) {
        std::vector<bool> keep(n);
        for (size_t k = 0; k < n; ++k) keep[k] = (mask >> k) & 1;
        if (!emit(keep)) return;
      }
      return;
    }
    // Large epochs: each write alone missing, each alone present, then random.
    for (size_t k = 0; k < n; ++k) {
      std::vector<bool> keep(n, true);
      keep[k] = false;
      if (!emit(keep)) return;
    }
    for (size_t k = 0; k < n; ++k) {
      std::vector<bool> keep(n, false);
      keep[k] = true;
      if (!emit(keep)) return;
    }
    for (uint64_t tries = 0; out_.size() < limit && tries < 4 * quota; ++tries) {
      std::vector<bool> keep(n);
      for (size_t k = 0; k < n; ++k) keep[k] = (rng_() & 1) != 0;
      if (!emit(keep)) return;
    }
  }

  // Overlapping writes applied in another order leave different data.
  void MaybeReorder(const Cut& c, std::vector<Piece> pieces, uint64_t limit) {
    if (pieces.size() < 2 || pieces.size() > 64 || out_.size() >= limit) return;
    bool overlap = false;
    for (size_t i = 0; i < pieces.size() && !overlap; ++i) {
      for (size_t j = i + 1; j < pieces.size() && !overlap; ++j) {
        overlap = Overlap(log_.entries[pieces[i].entry], log_.entries[pieces[j].entry]);
      }
    }
    if (!overlap) return;
    std::shuffle(pieces.begin(), pieces.end(), rng_);
    Add(Make(c, "reorder", std::move(pieces)));
  }

  void Torn(const Cut& c, uint64_t quota) {
    const std::vector<Piece> w = CutWrites(log_, c);
    std::vector<std::pair<size_t, uint64_t>> tears;  // (piece, sectors kept)
    for (size_t i = 0; i < w.size(); ++i) {
      const LogEntry& e = log_.entries[w[i].entry];
      if (e.nr_sectors < 2 || e.is_discard()) continue;
      // Cut only at multiples of the device's atomic write unit.
      for (uint64_t t = 1; t < e.nr_sectors; ++t) {
        if ((e.sector + t) % opts_.torn_unit == 0) tears.emplace_back(i, t);
      }
    }
    if (tears.size() > quota) {
      std::shuffle(tears.begin(), tears.end(), rng_);
      tears.resize(quota);
      std::sort(tears.begin(), tears.end());
    }
    for (const auto& [i, t] : tears) {
      std::vector<Piece> pieces = w;
      pieces[i].sectors = t;
      if (!Add(Make(c, "torn", std::move(pieces)))) return;
    }
  }

  const ParsedLog& log_;
  const StateOptions opts_;
  std::mt19937_64 rng_;
  std::set<std::string> seen_;
  std::vector<CrashState> out_;
};

}  // namespace

Result<unsigned> ParseStateKinds(const std::string& text) {
  unsigned kinds = 0;
  std::stringstream in(text);
  std::string word;
  while (std::getline(in, word, ',')) {
    if (word == "prefixes") kinds |= kPrefixes;
    else if (word == "epoch-subsets") kinds |= kEpochSubsets;
    else if (word == "torn") kinds |= kTorn;
    else if (word == "all") kinds |= kPrefixes | kEpochSubsets | kTorn;
    else return InvalidArgument("unknown state kind '{}' (prefixes, epoch-subsets, torn, all)", word);
  }
  if (kinds == 0) return InvalidArgument("--states needs at least one kind");
  return kinds;
}

std::vector<CrashState> EnumerateStates(const ParsedLog& log, const StateOptions& opts) {
  return Generator(log, opts).Run();
}

CrashState ExpandEpoch(const ParsedLog& log, const CrashState& s, uint64_t first_entry) {
  if (s.kind != "prefix" || s.prefix <= first_entry) return s;
  CrashState out = s;
  const Cut c{std::max(EpochStart(log, s.prefix - 1), first_entry), s.prefix - 1};
  out.prefix = c.start;
  out.extra = CutWrites(log, c);
  return out;
}

std::string DescribeState(const ParsedLog& log, const CrashState& s) {
  std::string out = fmt::format("{} state #{}: crash after entry {}; entries 0..{} applied", s.kind,
                                s.id, s.crash_point, s.prefix == 0 ? 0 : s.prefix - 1);
  if (s.prefix == 0) out = fmt::format("{} state #{}: crash after entry {}; no entries applied",
                                       s.kind, s.id, s.crash_point);
  for (const Piece& p : s.extra) {
    const LogEntry& e = log.entries[p.entry];
    out += "\n  + " + DescribeEntry(e);
    if (p.sectors != 0) out += fmt::format(" (torn: first {} of {} sectors)", p.sectors, e.nr_sectors);
  }
  return out;
}

}  // namespace udm::crash
