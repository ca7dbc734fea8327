// Shared fixture pieces for target tests that drive a real MappedDevice:
// table loading with a TestResolver, and synchronous helpers around TestIo.
#pragma once

#include <gtest/gtest.h>

#include <memory>
#include <string>
#include <string_view>

#include "support/test_io.h"
#include "support/test_resolver.h"
#include "udm/mapped_device.h"
#include "udm/table.h"
#include "udm/targets/builtin.h"

namespace udm::test {

class TargetTestBase : public ::testing::Test {
 protected:
  Result<std::unique_ptr<Table>> Load(std::string_view text) {
    return Table::FromText(text, BuiltinTargets(), TableOptions{true, &resolver_, {}});
  }
  // The error message of a table that must fail to load.
  std::string LoadError(std::string_view text) {
    auto table = Load(text);
    if (table) return "(loaded)";
    return table.error().message;
  }
  // The table line (kTable) or status line (kInfo) of a one-line table.
  std::string Line(std::string_view text, StatusType type) {
    auto table = Load(text);
    if (!table) return "(failed: " + table.error().message + ")";
    return (*table)->Text(type);
  }
  // Submits and waits; returns the completion status (1 on timeout).
  static int Run(MappedDevice& md, TestIo& io, int timeout_ms = 10000) {
    md.Submit(io.bio());
    if (!io.Wait(timeout_ms)) return 1;
    return io.status();
  }
  // The reply to a message, or "error: <message>".
  static std::string Msg(MappedDevice& md, std::initializer_list<std::string> args) {
    std::vector<std::string> v(args);
    auto r = md.Message(0, v);
    if (!r) return "error: " + r.error().message;
    return *r;
  }

  TestResolver resolver_;
};

}  // namespace udm::test
