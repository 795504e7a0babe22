// A benchmark scenario: untimed preparation, one timed operation repeated by
// every thread, untimed cleanup. Scenarios are registered by name in
// scenario_registry.cc; each lives in a small scenarios_*.cc file.
#ifndef HSM_BENCH_SCENARIO_H_
#define HSM_BENCH_SCENARIO_H_

#include <cstdint>
#include <memory>
#include <random>
#include <string>
#include <vector>

#include "bench/status.h"
#include "third_party/pkcs11/pkcs11.h"

namespace hsm::bench {

// What every step of a scenario may use.
struct Env {
  CK_FUNCTION_LIST* p11 = nullptr;
  CK_SLOT_ID slot = 0;
  int threads = 1;
  // --objects: how many token objects find-by-id searches among, or how many
  // destroy-token-objects prepares.
  size_t objects = 0;
  // --fill_threads: threads (one session each) that create or destroy objects
  // at setup and teardown, so that filling a token does not take all day.
  int fill_threads = 4;
  // --token_keys: make the keys token objects (as a CA's are) rather than
  // session objects.
  bool token_keys = true;
};

// One thread of the timed run.
struct Worker {
  int index = 0;
  // This thread's own read-write session, opened before timing starts, after
  // the login; closed (with the session objects it made) after the run.
  CK_SESSION_HANDLE session = CK_INVALID_HANDLE;
  std::mt19937_64 random;
  // Operations this thread has completed, e.g. to make unique IVs or IDs.
  uint64_t done = 0;
};

class Scenario {
 public:
  virtual ~Scenario() = default;

  // Untimed, once, before the threads start. `session` is logged in and stays
  // open until after Teardown, so session objects made here live all along.
  virtual Status Setup(const Env& env, CK_SESSION_HANDLE session) { return Status::Ok(); }
  // One timed operation. May be called from `env.threads` threads at once,
  // each with its own Worker; Status::Exhausted() ends the run early.
  virtual Status Run(const Env& env, Worker& worker) = 0;
  // Untimed, once, after the threads stop: remove what stays on the token.
  virtual Status Teardown(const Env& env, CK_SESSION_HANDLE session) { return Status::Ok(); }
  // Extra `"name": value` pairs for the JSON line (e.g. a fill rate), each
  // preceded by a comma; empty if none.
  virtual std::string ExtraJson() const { return ""; }
};

// The scenario called `name`, or nullptr.
std::unique_ptr<Scenario> MakeScenario(const std::string& name);
// Every scenario name, in the order run.sh runs them.
std::vector<std::string> ScenarioNames();

}  // namespace hsm::bench

#endif  // HSM_BENCH_SCENARIO_H_
