// Token objects (certificates, see certificates.h): a search by CKA_ID among N
// objects (how NSS finds a key or a certificate), and creating and destroying
// objects (what a CA does with certificates). Setup and teardown use several
// threads.
#include <chrono>
#include <cstdio>
#include <string>
#include <vector>

#include "bench/certificates.h"
#include "bench/parallel.h"
#include "bench/report.h"
#include "bench/scenarios.h"

namespace hsm::bench {
namespace {

const char kFindLabel[] = "p11bench find";
const char kCreateLabel[] = "p11bench create";
const char kDestroyLabel[] = "p11bench destroy";

double SecondsSince(std::chrono::steady_clock::time_point start) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
}

// The CKA_ID of find-by-id's object number i.
std::string FindId(size_t i) {
  char id[32];
  std::snprintf(id, sizeof(id), "find-%09zu", i);
  return id;
}

// Searches for one random CKA_ID (with the class, as NSS does) among
// `env.objects` objects that Setup made, or found already there, so that a
// large fill is paid once per token.
class FindById : public Scenario {
 public:
  Status Setup(const Env& env, CK_SESSION_HANDLE session) override {
    std::vector<CK_OBJECT_HANDLE> existing;
    BENCH_RETURN_IF_ERROR(FindCertificatesByLabel(env, session, kFindLabel, &existing));
    existing_ = existing.size();
    // Objects 0 .. existing-1 are there from an earlier run; add the rest.
    if (existing_ >= env.objects) return Status::Ok();
    const size_t first = existing_;
    auto start = std::chrono::steady_clock::now();
    Status status = ParallelFor(env, env.fill_threads, env.objects - first, [&](CK_SESSION_HANDLE s, size_t i) {
      CK_OBJECT_HANDLE object;
      return CreateCertificate(env, s, kFindLabel, FindId(first + i), &object);
    });
    fill_seconds_ = SecondsSince(start);
    if (!status.ok()) return status;
    filled_ = env.objects - first;
    std::fprintf(stderr, "find-by-id: created %zu objects in %.1f s (%.0f/s) with %d threads\n", filled_,
                 fill_seconds_, filled_ / fill_seconds_, env.fill_threads);
    return status;
  }

  Status Run(const Env& env, Worker& worker) override {
    const std::string id = FindId(worker.random() % env.objects);
    CK_OBJECT_CLASS certificate = CKO_CERTIFICATE;
    CK_ATTRIBUTE search[] = {
        {CKA_CLASS, &certificate, sizeof(certificate)},
        {CKA_ID, const_cast<char*>(id.data()), id.size()},
    };
    // One C_FindObjects for up to 16 handles, as NSS asks.
    CK_OBJECT_HANDLE found[16];
    CK_ULONG count = 0;
    BENCH_P11("C_FindObjectsInit", env.p11->C_FindObjectsInit(worker.session, search, 2));
    BENCH_P11("C_FindObjects", env.p11->C_FindObjects(worker.session, found, 16, &count));
    BENCH_P11("C_FindObjectsFinal", env.p11->C_FindObjectsFinal(worker.session));
    // A miss means an earlier fill was cut short: the figures would be wrong.
    if (count == 0) return Status::Failed("C_FindObjects found no object with CKA_ID " + id, CKR_GENERAL_ERROR);
    return Status::Ok();
  }

  std::string ExtraJson() const override {
    std::string json = ", \"objects_before\": " + std::to_string(existing_) + ", \"filled\": " + std::to_string(filled_);
    if (filled_ > 0) {
      json += ", \"fill_seconds\": " + Fixed(fill_seconds_, 3) + ", \"fill_per_s\": " + Fixed(filled_ / fill_seconds_, 1);
    }
    return json;
  }

 private:
  size_t existing_ = 0;
  size_t filled_ = 0;
  double fill_seconds_ = 0;
};

// Destroys `objects` (one list per worker) with the fill threads.
Status DestroyAll(const Env& env, const std::vector<std::vector<CK_OBJECT_HANDLE>>& per_worker) {
  std::vector<CK_OBJECT_HANDLE> all;
  for (const auto& list : per_worker) all.insert(all.end(), list.begin(), list.end());
  return ParallelFor(env, env.fill_threads, all.size(), [&](CK_SESSION_HANDLE s, size_t i) {
    BENCH_P11("C_DestroyObject", env.p11->C_DestroyObject(s, all[i]));
    return Status::Ok();
  });
}

class CreateTokenObjects : public Scenario {
 public:
  Status Setup(const Env& env, CK_SESSION_HANDLE) override {
    created_.assign(env.threads, {});
    return Status::Ok();
  }
  Status Run(const Env& env, Worker& worker) override {
    const std::string id = "create-" + std::to_string(worker.index) + "-" + std::to_string(worker.done);
    CK_OBJECT_HANDLE object = CK_INVALID_HANDLE;
    BENCH_RETURN_IF_ERROR(CreateCertificate(env, worker.session, kCreateLabel, id, &object));
    created_[worker.index].push_back(object);
    return Status::Ok();
  }
  Status Teardown(const Env& env, CK_SESSION_HANDLE) override { return DestroyAll(env, created_); }

 private:
  std::vector<std::vector<CK_OBJECT_HANDLE>> created_;  // by worker
};

// Destroys the `env.objects` objects Setup made; the run ends when they are
// gone (or the time is up; Teardown removes what is left).
class DestroyTokenObjects : public Scenario {
 public:
  Status Setup(const Env& env, CK_SESSION_HANDLE) override {
    std::vector<CK_OBJECT_HANDLE> made(env.objects, CK_INVALID_HANDLE);
    BENCH_RETURN_IF_ERROR(ParallelFor(env, env.fill_threads, env.objects, [&](CK_SESSION_HANDLE s, size_t i) {
      return CreateCertificate(env, s, kDestroyLabel, "destroy-" + std::to_string(i), &made[i]);
    }));
    prepared_ = made.size();
    pool_.assign(env.threads, {});
    for (size_t i = 0; i < made.size(); ++i) pool_[i % env.threads].push_back(made[i]);
    return Status::Ok();
  }
  Status Run(const Env& env, Worker& worker) override {
    std::vector<CK_OBJECT_HANDLE>& mine = pool_[worker.index];
    if (mine.empty()) return Status::Exhausted();
    BENCH_P11("C_DestroyObject", env.p11->C_DestroyObject(worker.session, mine.back()));
    mine.pop_back();
    return Status::Ok();
  }
  Status Teardown(const Env& env, CK_SESSION_HANDLE) override { return DestroyAll(env, pool_); }
  std::string ExtraJson() const override { return ", \"prepared\": " + std::to_string(prepared_); }

 private:
  std::vector<std::vector<CK_OBJECT_HANDLE>> pool_;  // by worker
  size_t prepared_ = 0;
};

}  // namespace

std::unique_ptr<Scenario> MakeFindById() { return std::make_unique<FindById>(); }
std::unique_ptr<Scenario> MakeCreateTokenObjects() { return std::make_unique<CreateTokenObjects>(); }
std::unique_ptr<Scenario> MakeDestroyTokenObjects() { return std::make_unique<DestroyTokenObjects>(); }

}  // namespace hsm::bench
