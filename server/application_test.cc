#include "server/application.h"

#include <thread>

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

TEST(ApplicationRegistryTest, FindsOnlyWithinTheTenant) {
  ApplicationRegistry registry(absl::Seconds(30));
  auto app = registry.Register(7, {1}, "test");
  EXPECT_NE(app->id(), 0u);
  EXPECT_EQ(registry.Find(app->id(), 7), app);
  EXPECT_EQ(registry.Find(app->id(), 8), nullptr);
  registry.Remove(app->id());
  EXPECT_EQ(registry.Find(app->id(), 7), nullptr);
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
