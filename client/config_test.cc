#include "client/config.h"

#include <stdlib.h>

#include "gtest/gtest.h"

namespace hsm::client {
namespace {

TEST(ConfigTest, DefaultsReachTheDevelopmentServer) {
  Config config;
  EXPECT_EQ(config.server, "127.0.0.1:7700");
  EXPECT_GT(config.deadline_ms, 0);
}

TEST(ConfigTest, ParsesKeysCommentsAndBlankLines) {
  Config config;
  std::string error;
  ASSERT_TRUE(ParseConfig("# comment\n\nserver = hsm.example:7700  # trailing\ndeadline_ms=2500\n"
                          "long_deadline_ms = 60000\nconnect_wait_ms = 300\nreply_spin_us = 0\n",
                          "f", config, error))
      << error;
  EXPECT_EQ(config.server, "hsm.example:7700");
  EXPECT_EQ(config.deadline_ms, 2500);
  EXPECT_EQ(config.long_deadline_ms, 60000);
  EXPECT_EQ(config.connect_wait_ms, 300);
  EXPECT_EQ(config.reply_spin_us, 0);
}

TEST(ConfigTest, ErrorsNameTheFileAndLine) {
  struct Case {
    const char* text;
    const char* message;
  };
  for (const Case& c : {Case{"server = 1.2.3.4:7700\nnonsense\n", "f:2: expected 'key = value'"},
                        Case{"colour = blue\n", "f:1: unknown key 'colour'"},
                        Case{"server = no-port\n", "f:1: server must be HOST:PORT"},
                        Case{"server = host:99999\n", "f:1: server must be HOST:PORT"},
                        Case{"deadline_ms = -5\n", "f:1: deadline_ms must be a positive"},
                        Case{"deadline_ms = 10s\n", "f:1: deadline_ms must be a positive"},
                        Case{"reply_spin_us = -1\n", "f:1: reply_spin_us must be a number of microseconds"}}) {
    Config config;
    std::string error;
    EXPECT_FALSE(ParseConfig(c.text, "f", config, error)) << c.text;
    EXPECT_EQ(error.rfind(c.message, 0), 0u) << error;
  }
}

TEST(ConfigTest, EnvironmentOverridesTheFile) {
  setenv("HSM_SERVER", "10.1.2.3:7701", 1);
  setenv("HSM_DEADLINE_MS", "1234", 1);
  unsetenv("HSM_PKCS11_CONFIG");
  Config config;
  std::string error;
  ASSERT_TRUE(LoadConfig(config, error)) << error;
  EXPECT_EQ(config.server, "10.1.2.3:7701");
  EXPECT_EQ(config.deadline_ms, 1234);
  setenv("HSM_DEADLINE_MS", "soon", 1);
  EXPECT_FALSE(LoadConfig(config, error));
  EXPECT_NE(error.find("HSM_DEADLINE_MS"), std::string::npos);
  unsetenv("HSM_SERVER");
  unsetenv("HSM_DEADLINE_MS");
}

}  // namespace
}  // namespace hsm::client
