// udmsetup: the dmsetup-like command line client of udmd. Parses the
// command line, gathers and rewrites the table, sends one request over the
// control socket and prints the result (`udmsetup help`).
#include <unistd.h>

#include <cstdio>
#include <optional>
#include <string>
#include <vector>

#include <fmt/core.h>

#include "control/client.h"
#include "control/protocol.h"
#include "control/udmsetup_args.h"
#include "control/udmsetup_format.h"
#include "control/udmsetup_request.h"
#include "control/udmsetup_table.h"

namespace udm::daemon::udmsetup {
namespace {

constexpr int kExitFailure = 1;
constexpr int kExitUsage = 2;

int Complain(std::string_view message, int status) {
  std::fflush(stdout);
  fmt::print(stderr, "udmsetup: {}\n", message);
  return status;
}

std::string CurrentDir() {
  std::vector<char> buf(4096);
  while (::getcwd(buf.data(), buf.size()) == nullptr) {
    if (errno != ERANGE) return ".";
    buf.resize(buf.size() * 2);
  }
  return buf.data();
}

// The table of a create/load command, read, made absolute and checked.
Result<std::optional<std::string>> PrepareTable(const CliCommand& command) {
  if (command.verb != "create" && command.verb != "load") return std::nullopt;
  auto table = ReadTableInput(command, STDIN_FILENO);
  if (!table || !table->has_value()) return table;
  std::string text = AbsolutizeTablePaths(**table, CurrentDir());
  if (!IsValidUtf8(text)) return InvalidArgument("the table is not valid UTF-8");
  return std::optional<std::string>(std::move(text));
}

int Print(std::string_view text) {
  if (!text.empty()) std::fwrite(text.data(), 1, text.size(), stdout);
  if (std::fflush(stdout) != 0) return Complain("cannot write to stdout", kExitFailure);
  return 0;
}

int Run(const CliCommand& command) {
  if (command.verb == "help") return Print(UsageText());
  auto table = PrepareTable(command);
  if (!table) return Complain(table.error().message, kExitFailure);
  CliRequest request = BuildRequest(command, *table);
  if (command.verb == "version" && !command.options.json) {
    if (int rc = Print(FormatLibraryVersion(UDM_VERSION)); rc != 0) return rc;
  }
  auto client = ControlClient::Connect(ResolveSocketPath(command.options.socket));
  if (!client) return Complain(client.error().message, kExitFailure);
  auto result = client->Call(request.method, request.params);
  if (!result) return Complain(result.error().message, kExitFailure);
  if (command.options.json) return Print(EncodeLine(*result));
  return Print(FormatResult(command, *result));
}

}  // namespace
}  // namespace udm::daemon::udmsetup

int main(int argc, char** argv) {
  using namespace udm::daemon::udmsetup;
  std::vector<std::string> args(argv + 1, argv + argc);
  auto command = ParseCommandLine(args);
  if (!command) return Complain(command.error().message, kExitUsage);
  return Run(*command);
}
