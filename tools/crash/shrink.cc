// ShrinkState: ddmin over the indices of the optional pieces. Subsets are
// tried first, then complements, and the granularity doubles when neither
// fails, until each remaining piece is needed (1-minimal).
#include "shrink.h"

#include <algorithm>

namespace udm::crash {

CrashState ShrinkState(const CrashState& state, const std::function<bool(const CrashState&)>& fails,
                       uint64_t max_tests) {
  std::vector<size_t> optional;
  for (size_t i = 0; i < state.extra.size(); ++i) {
    if (state.extra[i].optional) optional.push_back(i);
  }
  uint64_t tests = 0;
  auto with = [&](const std::vector<size_t>& keep) {
    CrashState s = state;
    s.extra.clear();
    for (size_t i = 0; i < state.extra.size(); ++i) {
      if (!state.extra[i].optional || std::binary_search(keep.begin(), keep.end(), i)) {
        s.extra.push_back(state.extra[i]);
      }
    }
    return s;
  };
  auto test = [&](const std::vector<size_t>& keep) {
    ++tests;
    return fails(with(keep));
  };

  std::vector<size_t> current = optional;
  if (!current.empty() && test({})) return with({});
  size_t n = 2;
  while (current.size() >= 2 && tests < max_tests) {
    const size_t chunk = (current.size() + n - 1) / n;
    std::vector<std::vector<size_t>> parts;
    for (size_t at = 0; at < current.size(); at += chunk) {
      parts.emplace_back(current.begin() + at,
                         current.begin() + std::min(current.size(), at + chunk));
    }
    bool reduced = false;
    for (const auto& part : parts) {
      if (tests >= max_tests) break;
      if (test(part)) {
        current = part;
        n = 2;
        reduced = true;
        break;
      }
    }
    if (!reduced && parts.size() > 2) {
      for (size_t k = 0; k < parts.size() && tests < max_tests; ++k) {
        std::vector<size_t> rest;
        for (size_t j = 0; j < parts.size(); ++j) {
          if (j != k) rest.insert(rest.end(), parts[j].begin(), parts[j].end());
        }
        std::sort(rest.begin(), rest.end());
        if (test(rest)) {
          current = rest;
          n = std::max<size_t>(n - 1, 2);
          reduced = true;
          break;
        }
      }
    }
    if (!reduced) {
      if (n >= current.size()) break;
      n = std::min(current.size(), n * 2);
    }
  }
  return with(current);
}

}  // namespace udm::crash
