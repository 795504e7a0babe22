#include <utility>

#include "bench/scenario.h"
#include "bench/scenarios.h"

namespace hsm::bench {
namespace {

using Factory = std::unique_ptr<Scenario> (*)();

// Cheap, stateless scenarios first; the ones that leave objects on the token
// (find-by-id keeps its objects for the next run) last, so that a module whose
// searches slow down with the object count is not penalised elsewhere.
const std::pair<const char*, Factory> kScenarios[] = {
    {"rsa2048-sign", MakeRsaSign},
    {"rsa2048-raw-sign", MakeRsaRawSign},
    {"rsa4096-sign", MakeRsa4096Sign},
    {"ecdsa-p256-sign", MakeEcdsaSign},
    {"rsa2048-verify", MakeRsaVerify},
    {"aes-gcm-1k", MakeAesGcm1k},
    {"sha256-1k", MakeSha256_1k},
    {"random-32", MakeRandom32},
    {"keygen-ec", MakeKeygenEc},
    {"open-close-session", MakeOpenCloseSession},
    {"nss-sign-flow", MakeNssSignFlow},
    {"create-token-objects", MakeCreateTokenObjects},
    {"destroy-token-objects", MakeDestroyTokenObjects},
    {"find-by-id", MakeFindById},
};

}  // namespace

std::unique_ptr<Scenario> MakeScenario(const std::string& name) {
  for (const auto& [scenario_name, factory] : kScenarios) {
    if (name == scenario_name) return factory();
  }
  return nullptr;
}

std::vector<std::string> ScenarioNames() {
  std::vector<std::string> names;
  for (const auto& entry : kScenarios) names.push_back(entry.first);
  return names;
}

}  // namespace hsm::bench
