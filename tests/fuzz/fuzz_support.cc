// The fuzzers' device set and checks (fuzz_support.h).
#include "fuzz/fuzz_support.h"

#include <cstdio>
#include <cstdlib>
#include <memory>

#include "support/test_resolver.h"
#include "udm/backends.h"

namespace udm::fuzz {

namespace {
constexpr uint64_t kBigSectors = uint64_t{1} << 21;
}  // namespace

const std::vector<std::string>& DeviceNames() {
  static const std::vector<std::string> names = {"/fuzz/a", "/fuzz/b", "/fuzz/c",
                                                 "/fuzz/d", "/fuzz/tiny", "udm:base"};
  return names;
}

DeviceResolver& Devices() {
  static test::TestResolver* resolver = [] {
    auto* r = new test::TestResolver();  // lives for the whole fuzzing run
    for (const std::string& name : DeviceNames()) {
      r->Add(std::make_shared<NullBackend>(name, name == "/fuzz/tiny" ? 8 : kBigSectors));
    }
    return r;
  }();
  return *resolver;
}

void Check(bool ok, std::string_view what, std::string_view detail) {
  if (ok) return;
  std::fprintf(stderr, "fuzz check failed: %.*s\n%.*s\n", static_cast<int>(what.size()),
               what.data(), static_cast<int>(detail.size()), detail.data());
  std::abort();
}

std::vector<std::string> SplitWords(std::string_view text) {
  std::vector<std::string> words;
  size_t i = 0;
  while (i < text.size()) {
    while (i < text.size() && (text[i] == ' ' || text[i] == '\t' || text[i] == '\n')) ++i;
    size_t start = i;
    while (i < text.size() && text[i] != ' ' && text[i] != '\t' && text[i] != '\n') ++i;
    if (i > start) words.emplace_back(text.substr(start, i - start));
  }
  return words;
}

}  // namespace udm::fuzz
