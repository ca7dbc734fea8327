// Crash states of a dm-log-writes log: which writes could be on the disk if
// power failed at some point of the run.
//
// The log is cut into epochs at FLUSH entries: everything logged before a
// flush is durable once it completes. Inside an epoch, writes logged up to
// the crash point have completed but may still sit in a volatile cache, so
// any subset of them may have reached the media, in any order (CrashMonkey's
// model); FUA writes logged up to the crash point are durable. Writes logged
// after the crash point are never included: the program may not even have
// issued them yet. A torn write is one whose first part reached the media,
// cut at a multiple of the device's atomic write unit.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "log_reader.h"

namespace udm::crash {

// One write applied to a state: a whole log entry, or its first `sectors`.
struct Piece {
  uint64_t entry = 0;
  uint64_t sectors = 0;   // 0: the whole write; else torn after this many
  bool optional = false;  // may be dropped by shrinking (not FUA-durable)
};

struct CrashState {
  uint64_t id = 0;
  std::string kind;         // "prefix", "subset", "reorder" or "torn"
  uint64_t crash_point = 0;  // the last log entry that had completed
  uint64_t prefix = 0;      // entries [0, prefix) are applied first, in order
  std::vector<Piece> extra;  // then these, in this order
};

enum StateKinds : unsigned {
  kPrefixes = 1u << 0,
  kEpochSubsets = 1u << 1,
  kTorn = 1u << 2,
};

struct StateOptions {
  unsigned kinds = kPrefixes | kEpochSubsets | kTorn;
  uint64_t max_states = 1000;
  uint64_t seed = 1;
  uint64_t first_entry = 0;  // no crash point before this entry (e.g. after a mark)
  // The device's atomic write unit in sectors: a torn write keeps a prefix
  // ending at a multiple of it (8: 4 KiB sectors; 1: any 512-byte sector).
  uint64_t torn_unit = 8;
};

// "prefixes,torn" -> kinds; an error names the unknown word.
Result<unsigned> ParseStateKinds(const std::string& text);

// Every prefix state first (sampled evenly if they alone exceed the
// budget), then subsets/reorderings and torn writes per epoch, exhaustive
// where an epoch is small and sampled with `seed` where it is not. No two
// states apply the same writes.
std::vector<CrashState> EnumerateStates(const ParsedLog& log, const StateOptions& opts);

// The same crash point, rewritten so that the writes of its epoch are
// explicit (optional) pieces on top of the epoch's durable prefix: the form
// shrinking works on. Entries before `first_entry` stay in the prefix.
CrashState ExpandEpoch(const ParsedLog& log, const CrashState& s, uint64_t first_entry = 0);

// "prefix of 120 entries + entry 125 (sector 88 +8), entry 127 torn at 8/16".
std::string DescribeState(const ParsedLog& log, const CrashState& s);

}  // namespace udm::crash
