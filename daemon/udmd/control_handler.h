// ControlHandler: the daemon side of the control protocol (docs/protocol.md).
// It checks each request's parameters, calls the VolumeManager and turns
// its answers into the protocol's JSON.
#pragma once

#include <nlohmann/json.hpp>

#include "control/request_handler.h"
#include "udm/target_registry.h"
#include "volumes/volume_manager.h"

namespace udm::daemon {

class ControlHandler : public RequestHandler {
 public:
  ControlHandler(VolumeManager& volumes, const TargetRegistry& registry)
      : volumes_(volumes), registry_(registry) {}

  Result<nlohmann::json> Handle(const std::string& method, const nlohmann::json& params) override;
  nlohmann::json Snapshot() override;

 private:
  VolumeManager& volumes_;
  const TargetRegistry& registry_;
};

nlohmann::json InfoJson(const VolumeInfo& info);
nlohmann::json StatsJson(const StatsSnapshot& s);

}  // namespace udm::daemon
