// p11bench: a load generator for any PKCS #11 module. It loads the module
// with dlopen, finds the token by label, logs in once, prepares the
// scenario's keys or objects (untimed), runs the scenario on T threads (one
// session each) for S seconds or N operations, cleans up, and prints
// throughput and latency percentiles. See docs/performance.md.
//
//   p11bench --module=bazel-bin/client/libhsm_pkcs11.so --token_label=dev-token
//            --pin=... --scenario=rsa2048-sign --threads=2 --seconds=5
#include <cstdio>
#include <string>
#include <vector>

#include "absl/flags/flag.h"
#include "absl/flags/parse.h"
#include "absl/flags/usage.h"
#include "absl/strings/str_join.h"
#include "bench/hold_sessions.h"
#include "bench/module.h"
#include "bench/report.h"
#include "bench/runner.h"
#include "bench/scenario.h"

ABSL_FLAG(std::string, module, "", "path of the PKCS #11 module to load");
ABSL_FLAG(std::string, token_label, "", "label of the token to use");
ABSL_FLAG(std::string, pin, "", "user PIN of the token");
ABSL_FLAG(std::string, scenario, "", "what to measure (--scenario=list prints the names)");
ABSL_FLAG(int, threads, 1, "threads, one session each");
ABSL_FLAG(double, seconds, 5, "how long to run (the run also stops after --ops operations)");
ABSL_FLAG(uint64_t, ops, 0, "stop after this many operations in all (0: no limit)");
ABSL_FLAG(uint64_t, objects, 1000,
          "find-by-id: token objects to search among (made if missing); destroy-token-objects: objects "
          "to prepare");
ABSL_FLAG(int, fill_threads, 4, "threads that create or destroy objects at setup and teardown");
ABSL_FLAG(int, rounds, 1,
          "setup, timed run and teardown this many times; the figures are of all the timed runs together "
          "(destroy-token-objects: each round destroys --objects, so that short runs add up)");
ABSL_FLAG(bool, token_keys, true, "make the scenario's keys token objects (false: session objects)");
ABSL_FLAG(uint64_t, hold_sessions, 0,
          "instead of a scenario: open this many sessions, say so on stdout, keep them --seconds, close them");
ABSL_FLAG(bool, json, false, "print only the JSON line on stdout (the readable line goes to stderr)");

// Marks the boundary between setup, the timed run and teardown, for
// profilers: bench/rpc_count.sh has callgrind dump its counts at each call.
extern "C" __attribute__((noinline)) void p11bench_phase(const char* name) {
  asm volatile("" : : "r"(name) : "memory");  // not optimised away
}

namespace hsm::bench {
namespace {

int Fail(const std::string& what) {
  std::fprintf(stderr, "p11bench: %s\n", what.c_str());
  return 1;
}

int Main() {
  const std::string scenario_name = absl::GetFlag(FLAGS_scenario);
  if (scenario_name == "list") {
    std::printf("%s\n", absl::StrJoin(ScenarioNames(), "\n").c_str());
    return 0;
  }
  const uint64_t hold_sessions = absl::GetFlag(FLAGS_hold_sessions);
  std::unique_ptr<Scenario> scenario = MakeScenario(scenario_name);
  if (scenario == nullptr && hold_sessions == 0) {
    return Fail("unknown --scenario '" + scenario_name + "'; one of: " + absl::StrJoin(ScenarioNames(), ", "));
  }
  RunOptions options;
  options.threads = absl::GetFlag(FLAGS_threads);
  options.seconds = absl::GetFlag(FLAGS_seconds);
  options.max_ops = absl::GetFlag(FLAGS_ops);
  if (options.threads < 1 || options.seconds <= 0) return Fail("--threads and --seconds must be positive");

  std::string error;
  std::unique_ptr<Module> module = Module::Load(absl::GetFlag(FLAGS_module), &error);
  if (module == nullptr) return Fail("cannot load --module: " + error);
  Env env;
  env.p11 = module->functions();
  env.threads = options.threads;
  env.objects = absl::GetFlag(FLAGS_objects);
  env.fill_threads = absl::GetFlag(FLAGS_fill_threads);
  env.token_keys = absl::GetFlag(FLAGS_token_keys);
  if (env.objects == 0) return Fail("--objects must be positive");
  Status status = module->FindSlot(absl::GetFlag(FLAGS_token_label), &env.slot);
  if (!status.ok()) return Fail(status.ToString());

  // One login for the application: every session sees it.
  CK_SESSION_HANDLE session = CK_INVALID_HANDLE;
  CK_RV rv = env.p11->C_OpenSession(env.slot, CKF_SERIAL_SESSION | CKF_RW_SESSION, nullptr, nullptr, &session);
  if (rv != CKR_OK) return Fail(Status::Failed("C_OpenSession", rv).ToString());
  std::string pin = absl::GetFlag(FLAGS_pin);
  rv = env.p11->C_Login(session, CKU_USER, reinterpret_cast<CK_UTF8CHAR*>(pin.data()), pin.size());
  if (rv != CKR_OK && rv != CKR_USER_ALREADY_LOGGED_IN) return Fail(Status::Failed("C_Login", rv).ToString());

  if (hold_sessions != 0) {
    status = HoldSessions(env, hold_sessions, options.seconds);
    env.p11->C_CloseSession(session);
    return status.ok() ? 0 : Fail(status.ToString());
  }

  const int rounds = absl::GetFlag(FLAGS_rounds);
  if (rounds < 1) return Fail("--rounds must be positive");
  // Each round: untimed setup, the timed run, untimed teardown. The figures
  // are of every timed run together: all latencies, and the operations over
  // the sum of the timed seconds.
  std::vector<int64_t> latencies_ns;
  double seconds = 0;
  for (int round = 0; round < rounds; ++round) {
    status = scenario->Setup(env, session);
    if (!status.ok()) return Fail(scenario_name + " setup: " + status.ToString());
    p11bench_phase("run");
    RunResult result = RunTimed(*scenario, env, options);
    p11bench_phase("teardown");
    Status cleanup = scenario->Teardown(env, session);
    if (!result.failure.ok()) return Fail(scenario_name + ": " + result.failure.ToString());
    if (!cleanup.ok()) return Fail(scenario_name + " teardown: " + cleanup.ToString());
    latencies_ns.insert(latencies_ns.end(), result.latencies_ns.begin(), result.latencies_ns.end());
    seconds += result.seconds;
  }
  env.p11->C_Logout(session);
  env.p11->C_CloseSession(session);

  RunInfo info{absl::GetFlag(FLAGS_module), scenario_name, options.threads};
  Summary summary = Summarize(latencies_ns, seconds);
  if (summary.ops == 0) return Fail(scenario_name + ": no operation completed");
  const std::string readable = ReadableLine(info, summary);
  const std::string json =
      JsonLine(info, summary, scenario->ExtraJson() + (rounds > 1 ? ", \"rounds\": " + std::to_string(rounds) : ""));
  if (absl::GetFlag(FLAGS_json)) {
    std::fprintf(stderr, "%s\n", readable.c_str());
    std::printf("%s\n", json.c_str());
  } else {
    std::printf("%s\n%s\n", readable.c_str(), json.c_str());
  }
  return 0;
}

}  // namespace
}  // namespace hsm::bench

int main(int argc, char** argv) {
  absl::SetProgramUsageMessage("a load generator for PKCS #11 modules: p11bench --module=PATH --token_label=L "
                               "--pin=P --scenario=NAME [--threads=T --seconds=S]");
  absl::ParseCommandLine(argc, argv);
  return hsm::bench::Main();
}
