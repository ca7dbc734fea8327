// The control protocol's decoder, fed one line as udmd's connection reads
// it (ControlConnection::HandleLine): ParseRequest, then ValidateParams, then
// the typed accessors a handler uses on validated params, which must not
// throw. Every response the server could send for the line must be one
// well-formed JSON line, whatever bytes the request carried.
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include <nlohmann/json.hpp>

#include "control/params.h"
#include "control/protocol.h"
#include "fuzz/fuzz_support.h"

namespace udm::daemon {
namespace {

using nlohmann::json;

// A response line: ends in the one '\n', which is its only newline, and
// parses back to an object with the id.
void CheckLine(const std::string& line, const json& id) {
  using udm::fuzz::Check;
  Check(!line.empty() && line.back() == '\n' && line.find('\n') == line.size() - 1,
        "response is not exactly one line", line);
  json back = json::parse(line, nullptr, /*allow_exceptions=*/false);
  Check(back.is_object() && back.contains("id") && back["id"] == id,
        "response does not parse back with its id", line);
}

// Reads every parameter of `method` the way handlers do.
void ReadParams(const MethodSpec& method, const json& params) {
  for (const ParamSpec& p : method.params) {
    switch (p.type) {
      case ParamType::kName:
      case ParamType::kString:
      case ParamType::kUuid:
      case ParamType::kBarriers:
        (void)StringParam(params, p.key);
        (void)OptionalStringParam(params, p.key);
        break;
      case ParamType::kBool:
        (void)BoolParam(params, p.key);
        break;
      case ParamType::kUint:
      case ParamType::kPositive:
      case ParamType::kIntervalMs:
        (void)UintParam(params, p.key);
        (void)OptionalUintParam(params, p.key);
        break;
      case ParamType::kStringArray:
        (void)StringArrayParam(params, p.key);
        break;
    }
  }
}

}  // namespace
}  // namespace udm::daemon

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace udm::daemon;
  const std::string_view line(reinterpret_cast<const char*>(data), size);
  if (line.find('\n') != std::string_view::npos) return 0;  // the reader splits there
  auto request = ParseRequest(line);
  if (!request) {
    CheckLine(EncodeError(request.error().id, request.error().error), request.error().id);
    return 0;
  }
  udm::Status ok = ValidateParams(request->method, request->params);
  if (!ok) {
    CheckLine(EncodeError(request->id, ok.error()), request->id);
    return 0;
  }
  const MethodSpec* method = FindMethod(request->method);
  udm::fuzz::Check(method != nullptr, "validated an unknown method", request->method);
  ReadParams(*method, request->params);
  // A handler echoes names and tables back in results and messages.
  CheckLine(EncodeResult(request->id, request->params), request->id);
  return 0;
}
