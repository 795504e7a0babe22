// The factories of the scenarios, one per name, defined in scenarios_*.cc and
// listed in scenario_registry.cc.
#ifndef HSM_BENCH_SCENARIOS_H_
#define HSM_BENCH_SCENARIOS_H_

#include <memory>

#include "bench/scenario.h"

namespace hsm::bench {

// scenarios_sign.cc
std::unique_ptr<Scenario> MakeRsaSign();        // CKM_SHA256_RSA_PKCS
std::unique_ptr<Scenario> MakeRsa4096Sign();    // CKM_SHA256_RSA_PKCS, a 4096-bit key (CA keys often are)
std::unique_ptr<Scenario> MakeRsaRawSign();     // CKM_RSA_PKCS over a DigestInfo
std::unique_ptr<Scenario> MakeEcdsaSign();      // CKM_ECDSA over a 32-byte hash
std::unique_ptr<Scenario> MakeRsaVerify();      // CKM_SHA256_RSA_PKCS
std::unique_ptr<Scenario> MakeNssSignFlow();    // open, init, attribute, sign, close

// scenarios_basic.cc
std::unique_ptr<Scenario> MakeAesGcm1k();
std::unique_ptr<Scenario> MakeSha256_1k();
std::unique_ptr<Scenario> MakeRandom32();
std::unique_ptr<Scenario> MakeKeygenEc();
std::unique_ptr<Scenario> MakeOpenCloseSession();

// scenarios_objects.cc
std::unique_ptr<Scenario> MakeFindById();
std::unique_ptr<Scenario> MakeCreateTokenObjects();
std::unique_ptr<Scenario> MakeDestroyTokenObjects();

}  // namespace hsm::bench

#endif  // HSM_BENCH_SCENARIOS_H_
