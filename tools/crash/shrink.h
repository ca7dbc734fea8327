// Delta debugging (Zeller's ddmin) over the optional writes of a failing
// crash state: the smallest set of them that, with the state's durable
// part, still makes the checker fail.
#pragma once

#include <cstdint>
#include <functional>
#include <vector>

#include "crash_states.h"

namespace udm::crash {

// `fails(s)` runs the checker on a state. `state` must be in expanded form
// (ExpandEpoch) and fail. Pieces that are not optional are always kept; the
// result keeps the pieces' order. At most `max_tests` calls of `fails`.
CrashState ShrinkState(const CrashState& state, const std::function<bool(const CrashState&)>& fails,
                       uint64_t max_tests = 200);

}  // namespace udm::crash
