#include "server/application.h"

#include <atomic>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "gtest/gtest.h"
#include "server/application_registry.h"
#include "third_party/pkcs11/pkcs11.h"

namespace hsm::server {
namespace {

TEST(ApplicationTest, SessionStatesFollowLogin) {
  Application app(1, 1, {1}, "test");
  Session& ro = app.OpenSession(1, false);
  Session& rw = app.OpenSession(1, true);
  EXPECT_NE(ro.id, 0u);
  EXPECT_NE(ro.id, rw.id);
  EXPECT_EQ(SessionState(ro, LoginState::kPublic), static_cast<uint64_t>(CKS_RO_PUBLIC_SESSION));
  EXPECT_EQ(SessionState(rw, LoginState::kPublic), static_cast<uint64_t>(CKS_RW_PUBLIC_SESSION));
  EXPECT_EQ(SessionState(ro, LoginState::kUser), static_cast<uint64_t>(CKS_RO_USER_FUNCTIONS));
  EXPECT_EQ(SessionState(rw, LoginState::kUser), static_cast<uint64_t>(CKS_RW_USER_FUNCTIONS));
  EXPECT_EQ(SessionState(rw, LoginState::kSecurityOfficer), static_cast<uint64_t>(CKS_RW_SO_FUNCTIONS));
}

TEST(ApplicationTest, LastSessionOfATokenLogsItOut) {
  Application app(1, 1, {1, 2}, "test");
  uint64_t a = app.OpenSession(1, true).id;
  uint64_t b = app.OpenSession(1, false).id;
  uint64_t other = app.OpenSession(2, true).id;
  app.set_login(1, LoginState::kUser);
  app.set_login(2, LoginState::kUser);
  EXPECT_EQ(app.SessionCount(1), 2u);
  EXPECT_EQ(app.ReadWriteSessionCount(1), 1u);
  app.CloseSession(a);
  EXPECT_EQ(app.login(1), LoginState::kUser);
  app.CloseSession(b);
  EXPECT_EQ(app.login(1), LoginState::kPublic);
  EXPECT_EQ(app.login(2), LoginState::kUser);
  EXPECT_NE(app.FindSession(other), nullptr);
  app.CloseAllSessions(2);
  EXPECT_EQ(app.FindSession(other), nullptr);
  EXPECT_EQ(app.login(2), LoginState::kPublic);
}

// A session object of about `bytes` bytes on slot 1.
SessionObject ObjectOf(uint64_t session_id, size_t bytes) {
  SessionObject object;
  object.slot_id = 1;
  object.session_id = session_id;
  object.attributes[CKA_VALUE] = storage::MakeBytes(CKA_VALUE, std::string(bytes, 'v'));
  return object;
}

TEST(ApplicationTest, ClosingASessionDestroysItsObjectsOnly) {
  Application app(1, 1, {1}, "test");
  const uint64_t owner = app.OpenSession(1, true).id;
  const uint64_t other = app.OpenSession(1, true).id;
  const uint64_t without_objects = app.OpenSession(1, true).id;
  const uint64_t emptied = app.OpenSession(1, true).id;
  const std::optional<uint64_t> owned = app.AddSessionObject(ObjectOf(owner, 10), 1 << 20);
  const std::optional<uint64_t> kept = app.AddSessionObject(ObjectOf(other, 10), 1 << 20);
  const std::optional<uint64_t> removed = app.AddSessionObject(ObjectOf(emptied, 10), 1 << 20);
  ASSERT_TRUE(owned.has_value() && kept.has_value() && removed.has_value());
  app.RemoveSessionObject(*removed);
  app.CloseSession(without_objects);
  app.CloseSession(emptied);
  EXPECT_NE(app.FindSessionObject(*owned), nullptr);
  EXPECT_NE(app.FindSessionObject(*kept), nullptr);
  app.CloseSession(owner);
  EXPECT_EQ(app.FindSessionObject(*owned), nullptr);
  EXPECT_NE(app.FindSessionObject(*kept), nullptr);
  // A later object of the emptied session's neighbour still goes with it.
  ASSERT_TRUE(app.AddSessionObject(ObjectOf(other, 10), 1 << 20).has_value());
  app.CloseSession(other);
  EXPECT_EQ(app.FindSessionObject(*kept), nullptr);
  EXPECT_EQ(app.session_object_bytes(), 0u);
}

TEST(ApplicationTest, SessionObjectsHoldAtMostTheirLimit) {
  Application app(1, 1, {1}, "test");
  const uint64_t session = app.OpenSession(1, true).id;
  const uint64_t one = SessionObjectBytes(ObjectOf(session, 1000).attributes);
  ASSERT_GT(one, 1000u);
  const uint64_t limit = 3 * one;
  std::optional<uint64_t> first = app.AddSessionObject(ObjectOf(session, 1000), limit);
  ASSERT_TRUE(first.has_value());
  ASSERT_TRUE(app.AddSessionObject(ObjectOf(session, 1000), limit).has_value());
  ASSERT_TRUE(app.AddSessionObject(ObjectOf(session, 1000), limit).has_value());
  EXPECT_EQ(app.session_object_bytes(), limit);
  EXPECT_FALSE(app.AddSessionObject(ObjectOf(session, 1), limit).has_value());
  EXPECT_FALSE(app.AddSessionObject(ObjectOf(session, 1 << 20), limit).has_value());
  // Growing an object counts as well; shrinking it gives room back.
  EXPECT_EQ(app.SetSessionObjectAttributes(*first, ObjectOf(session, 1001).attributes, limit),
            Application::SetResult::kOverLimit);
  EXPECT_EQ(app.FindSessionObject(*first)->attributes.at(CKA_VALUE).bytes().size(), 1000u);
  EXPECT_EQ(app.SetSessionObjectAttributes(*first, ObjectOf(session, 10).attributes, limit),
            Application::SetResult::kDone);
  EXPECT_EQ(app.SetSessionObjectAttributes(*first + 1000, ObjectOf(session, 10).attributes, limit),
            Application::SetResult::kNoSuchObject);
  EXPECT_TRUE(app.AddSessionObject(ObjectOf(session, 500), limit).has_value());
  // Destroying one frees its share.
  app.RemoveSessionObject(*first);
  EXPECT_TRUE(app.AddSessionObject(ObjectOf(session, 10), limit).has_value());
}

TEST(ApplicationTest, ClosingSessionsFreesTheirObjectsShare) {
  Application app(1, 1, {1}, "test");
  const uint64_t a = app.OpenSession(1, true).id;
  const uint64_t b = app.OpenSession(1, true).id;
  const uint64_t limit = uint64_t{1} << 20;
  ASSERT_TRUE(app.AddSessionObject(ObjectOf(a, 4000), limit).has_value());
  ASSERT_TRUE(app.AddSessionObject(ObjectOf(b, 2000), limit).has_value());
  const uint64_t b_share = SessionObjectBytes(ObjectOf(b, 2000).attributes);
  app.CloseSession(a);
  EXPECT_EQ(app.session_object_bytes(), b_share);
  app.CloseAllSessions(1);
  EXPECT_EQ(app.session_object_bytes(), 0u);
}

TEST(ApplicationTest, SessionsShareTheOperationsBudgetUntilClosed) {
  Application app(1, 1, {1}, "test");
  const uint64_t first = app.OpenSession(1, false).id;
  const uint64_t second = app.OpenSession(1, false).id;
  EXPECT_TRUE(app.FindSession(first)->operations->decrypt.held.Resize(60, 100));
  EXPECT_FALSE(app.FindSession(second)->operations->encrypt.held.Resize(41, 100));
  EXPECT_TRUE(app.FindSession(second)->operations->sign.held.Resize(40, 100));
  EXPECT_EQ(app.operation_memory()->used(), 100u);
  app.CloseSession(first);
  EXPECT_EQ(app.operation_memory()->used(), 40u) << "a closed session gives its operations' share back";
  app.FindSession(second)->operations->sign.End();
  EXPECT_EQ(app.operation_memory()->used(), 0u);
}

TEST(ApplicationRegistryTest, FindsOnlyWithinTheTenant) {
  ApplicationRegistry registry(absl::Seconds(30));
  auto app = registry.Register(7, {1}, "test");
  EXPECT_NE(app->id(), 0u);
  EXPECT_EQ(registry.Find(app->id(), 7), app);
  EXPECT_EQ(registry.Find(app->id(), 8), nullptr);
  registry.Remove(app->id());
  EXPECT_EQ(registry.Find(app->id(), 7), nullptr);
}

// A tenant's applications count their sessions together, however they end:
// closed one by one, all on a slot, or with the application.
TEST(ApplicationRegistryTest, ATenantsApplicationsCountTheirSessionsTogether) {
  ApplicationRegistry registry(absl::Seconds(30));
  auto first = registry.Register(7, {1, 2}, "first");
  auto second = registry.Register(7, {1}, "second");
  auto other_tenant = registry.Register(8, {1}, "other");
  uint64_t closed = 0;
  {
    std::lock_guard<std::mutex> lock(first->mutex());
    closed = first->OpenSession(1, true).id;
    first->OpenSession(2, false);
    first->OpenSession(2, true);
  }
  {
    std::lock_guard<std::mutex> lock(second->mutex());
    second->OpenSession(1, false);
  }
  {
    std::lock_guard<std::mutex> lock(other_tenant->mutex());
    other_tenant->OpenSession(1, false);
  }
  EXPECT_EQ(first->tenant_session_count(), 4u);
  EXPECT_EQ(second->tenant_session_count(), 4u);
  EXPECT_EQ(other_tenant->tenant_session_count(), 1u);
  {
    std::lock_guard<std::mutex> lock(first->mutex());
    first->CloseSession(closed);
    first->CloseSession(closed);  // no longer open: counts nothing
  }
  EXPECT_EQ(second->tenant_session_count(), 3u);
  {
    std::lock_guard<std::mutex> lock(first->mutex());
    first->CloseAllSessions(2);
  }
  EXPECT_EQ(second->tenant_session_count(), 1u);
  {
    std::lock_guard<std::mutex> lock(first->mutex());
    first->OpenSession(1, true);
  }
  registry.Remove(first->id());
  first.reset();  // the application's last reference: its sessions go with it
  EXPECT_EQ(second->tenant_session_count(), 1u);
  EXPECT_EQ(registry.Register(7, {1}, "later")->tenant_session_count(), 1u);
}

TEST(ApplicationRegistryTest, ConcurrentOpensOfATenantsApplicationsNeverPassItsLimit) {
  ApplicationRegistry registry(absl::Hours(1));
  constexpr uint64_t kLimit = 50;
  std::vector<std::shared_ptr<Application>> apps;
  for (int i = 0; i < 4; ++i) apps.push_back(registry.Register(7, {1}, "app" + std::to_string(i)));
  std::atomic<uint64_t> opened{0};
  std::vector<std::thread> openers;
  for (const std::shared_ptr<Application>& app : apps) {
    openers.emplace_back([&opened, app] {
      for (int i = 0; i < 200; ++i) {
        std::lock_guard<std::mutex> lock(app->mutex());
        if (app->TryOpenSession(1, true, kLimit) != nullptr) opened.fetch_add(1);
      }
    });
  }
  for (std::thread& opener : openers) opener.join();
  EXPECT_EQ(opened.load(), kLimit);
  EXPECT_EQ(apps[0]->tenant_session_count(), kLimit);
  size_t held = 0;
  for (const std::shared_ptr<Application>& app : apps) held += app->session_count();
  EXPECT_EQ(held, kLimit);
}

TEST(ApplicationRegistryTest, DropsIdleApplications) {
  ApplicationRegistry registry(absl::Milliseconds(200));
  auto idle = registry.Register(1, {1}, "idle");
  auto busy = registry.Register(1, {1}, "busy");
  for (int i = 0; i < 8; ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
    registry.Find(busy->id(), 1);
  }
  EXPECT_EQ(registry.Find(idle->id(), 1), nullptr);
  EXPECT_NE(registry.Find(busy->id(), 1), nullptr);
}

}  // namespace
}  // namespace hsm::server
