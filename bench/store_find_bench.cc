// store_find_bench: the server-side cost of a search, without gRPC or the
// client. It links hsmd's object store (//storage:object_store), fills a
// fresh LMDB with N certificate objects shaped like those hsmd stores for
// p11bench's find-by-id (the attributes a C_CreateObject template gets after
// the server adds its defaults), then times ObjectStore::Find for a random
// CKA_ID with the class, which the CKA_ID index answers. For contrast it also
// times a few searches that the index cannot narrow (by class alone).
//
// The fill uses ObjectStore::Create, one durable LMDB transaction per object,
// exactly as hsmd does; no batching, so the fill rate printed is also the
// store's own create rate on this disk.
//
//   bazel run -c opt //bench:store_find_bench -- --objects=100000
#include <stdlib.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <random>
#include <string>
#include <vector>

#include "absl/flags/flag.h"
#include "absl/flags/parse.h"
#include "bench/report.h"
#include "storage/lmdb_env.h"
#include "storage/object_store.h"
#include "storage/sealer.h"
#include "third_party/pkcs11/pkcs11.h"

ABSL_FLAG(uint64_t, objects, 100000, "certificate objects to fill the token with");
ABSL_FLAG(uint64_t, lookups, 20000, "timed searches by CKA_ID");
ABSL_FLAG(uint64_t, scans, 5, "timed searches by class alone (every object a candidate)");
ABSL_FLAG(std::string, dir, "",
          "LMDB folder, kept afterwards (default: a new folder under $TEST_TMPDIR or /tmp, removed at the end)");

namespace hsm::bench {
namespace {

using storage::AttributeSet;
using storage::MakeBool;
using storage::MakeBytes;
using storage::MakeUlong;
using Clock = std::chrono::steady_clock;

std::string FindId(uint64_t i) {
  char id[32];
  std::snprintf(id, sizeof(id), "find-%09llu", static_cast<unsigned long long>(i));
  return id;
}

// What hsmd stores for p11bench's CreateCertificate template (certificates.cc)
// once server/attribute_rules.cc has added the defaults.
AttributeSet Certificate(uint64_t i) {
  const std::string id = FindId(i);
  AttributeSet set;
  for (const hsm::v1::Attribute& a : {MakeUlong(CKA_CLASS, CKO_CERTIFICATE),
                                      MakeUlong(CKA_CERTIFICATE_TYPE, CKC_X_509),
                                      MakeBool(CKA_TOKEN, true),
                                      MakeBool(CKA_PRIVATE, false),
                                      MakeBool(CKA_MODIFIABLE, true),
                                      MakeBool(CKA_COPYABLE, true),
                                      MakeBool(CKA_DESTROYABLE, true),
                                      MakeBytes(CKA_LABEL, "p11bench find"),
                                      MakeBool(CKA_TRUSTED, false),
                                      MakeUlong(CKA_CERTIFICATE_CATEGORY, 0),
                                      MakeBytes(CKA_START_DATE, ""),
                                      MakeBytes(CKA_END_DATE, ""),
                                      MakeBytes(CKA_PUBLIC_KEY_INFO, ""),
                                      MakeBytes(CKA_SUBJECT, "subject CN=" + id),
                                      MakeBytes(CKA_ID, id),
                                      MakeBytes(CKA_ISSUER, "issuer CN=p11bench CA"),
                                      MakeBytes(CKA_SERIAL_NUMBER, "serial " + id),
                                      MakeBytes(CKA_VALUE, "certificate " + id + std::string(900, '\x42')),
                                      MakeBytes(CKA_URL, ""),
                                      MakeBytes(CKA_HASH_OF_SUBJECT_PUBLIC_KEY, ""),
                                      MakeBytes(CKA_HASH_OF_ISSUER_PUBLIC_KEY, ""),
                                      MakeUlong(CKA_JAVA_MIDP_SECURITY_DOMAIN, 0),
                                      MakeUlong(CKA_NAME_HASH_ALGORITHM, CKM_SHA_1)}) {
    set[a.type()] = a;
  }
  return set;
}

// hsmd's matcher in spirit: every query attribute present with the same value.
storage::ObjectStore::Matcher Matching(const AttributeSet& query) {
  return [&query](const AttributeSet& plain, const std::set<uint64_t>&) {
    for (const auto& [type, want] : query) {
      auto it = plain.find(type);
      if (it == plain.end() || it->second.SerializeAsString() != want.SerializeAsString()) return false;
    }
    return true;
  };
}

int64_t NanosSince(Clock::time_point start) {
  return std::chrono::duration_cast<std::chrono::nanoseconds>(Clock::now() - start).count();
}

void Print(const std::string& what, std::vector<int64_t>& latencies, double seconds) {
  Summary s = Summarize(latencies, seconds);
  std::printf("%s: %llu calls, latency us p50 %s p90 %s p99 %s max %s\n", what.c_str(),
              static_cast<unsigned long long>(s.ops), Fixed(s.p50, 1).c_str(), Fixed(s.p90, 1).c_str(),
              Fixed(s.p99, 1).c_str(), Fixed(s.max, 1).c_str());
}

// Removes the LMDB folder this run made (hundreds of MB at 100,000 objects).
struct TempDir {
  std::string path;
  ~TempDir() {
    if (path.empty()) return;
    for (const char* file : {"/data.mdb", "/lock.mdb"}) unlink((path + file).c_str());
    rmdir(path.c_str());
  }
};

int Main() {
  std::string dir = absl::GetFlag(FLAGS_dir);
  TempDir temp;
  if (dir.empty()) {
    const char* base = getenv("TEST_TMPDIR");
    std::string pattern = std::string(base != nullptr ? base : "/tmp") + "/store_find_bench.XXXXXX";
    if (mkdtemp(pattern.data()) == nullptr) return 1;
    dir = temp.path = pattern;
  }
  // Declared after `temp`, so closed before the folder is removed.
  auto env = storage::LmdbEnv::Open(dir);
  auto sealer = storage::Sealer::Create(std::string(storage::kMasterKeyBytes, 'k'));
  if (!env.ok() || !sealer.ok()) return std::fprintf(stderr, "cannot open LMDB in %s\n", dir.c_str()), 1;
  auto store = storage::ObjectStore::Open(env->get(), sealer->get());
  if (!store.ok()) return std::fprintf(stderr, "cannot open the object store\n"), 1;
  const storage::TokenRef token{1, 1};

  const uint64_t n = absl::GetFlag(FLAGS_objects);
  auto fill_start = Clock::now();
  for (uint64_t i = 0; i < n; ++i) {
    auto id = (*store)->Create(token, Certificate(i), {});
    if (!id.ok()) return std::fprintf(stderr, "create: %s\n", std::string(id.status().message()).c_str()), 1;
  }
  const double fill_seconds = NanosSince(fill_start) / 1e9;
  std::printf("filled %s with %llu objects in %.1f s (%.0f/s, one transaction each)\n", dir.c_str(),
              static_cast<unsigned long long>(n), fill_seconds, n / fill_seconds);

  std::mt19937_64 random(42);
  std::vector<int64_t> by_id;
  auto run_start = Clock::now();
  for (uint64_t k = 0; k < absl::GetFlag(FLAGS_lookups); ++k) {
    AttributeSet query;
    query[CKA_CLASS] = MakeUlong(CKA_CLASS, CKO_CERTIFICATE);
    query[CKA_ID] = MakeBytes(CKA_ID, FindId(random() % n));
    auto start = Clock::now();
    auto found = (*store)->Find(token, query, Matching(query));
    by_id.push_back(NanosSince(start));
    if (!found.ok() || found->size() != 1) return std::fprintf(stderr, "search by CKA_ID missed\n"), 1;
  }
  const double id_seconds = NanosSince(run_start) / 1e9;
  Print("Find by CKA_ID + class", by_id, id_seconds);

  std::vector<int64_t> by_class;
  run_start = Clock::now();
  for (uint64_t k = 0; k < absl::GetFlag(FLAGS_scans); ++k) {
    AttributeSet query;
    query[CKA_CLASS] = MakeUlong(CKA_CLASS, CKO_CERTIFICATE);
    auto start = Clock::now();
    auto found = (*store)->Find(token, query, Matching(query));
    by_class.push_back(NanosSince(start));
    if (!found.ok() || found->size() != n) return std::fprintf(stderr, "search by class missed\n"), 1;
  }
  Print("Find by class alone (all objects)", by_class, NanosSince(run_start) / 1e9);

  std::vector<int64_t> counts;
  for (uint64_t k = 0; k < absl::GetFlag(FLAGS_scans); ++k) {
    auto start = Clock::now();
    auto count = (*store)->Count(token);
    counts.push_back(NanosSince(start));
    if (!count.ok() || *count != n) return std::fprintf(stderr, "count is wrong\n"), 1;
  }
  Print("Count (object quota check)", counts, 1);

  Summary id_summary = Summarize(by_id, id_seconds);
  Summary class_summary = Summarize(by_class, 1);
  Summary count_summary = Summarize(counts, 1);
  std::printf(
      "{\"objects\": %llu, \"fill_seconds\": %s, \"fill_per_s\": %s, \"find_by_id_p50_us\": %s, "
      "\"find_by_id_p99_us\": %s, \"find_by_id_max_us\": %s, \"find_by_class_p50_us\": %s, \"count_p50_us\": %s}\n",
      static_cast<unsigned long long>(n), Fixed(fill_seconds, 2).c_str(), Fixed(n / fill_seconds, 1).c_str(),
      Fixed(id_summary.p50, 1).c_str(), Fixed(id_summary.p99, 1).c_str(), Fixed(id_summary.max, 1).c_str(),
      Fixed(class_summary.p50, 1).c_str(), Fixed(count_summary.p50, 1).c_str());
  return 0;
}

}  // namespace
}  // namespace hsm::bench

int main(int argc, char** argv) {
  absl::ParseCommandLine(argc, argv);
  return hsm::bench::Main();
}
