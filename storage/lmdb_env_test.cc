#include "storage/lmdb_env.h"

#include <string>
#include <vector>

#include "gtest/gtest.h"
#include "storage/test_dir.h"

namespace hsm::storage {
namespace {

TEST(LmdbEnvTest, WriteThenReadBack) {
  auto env = LmdbEnv::Open(MakeTestDir("lmdb"));
  ASSERT_TRUE(env.ok()) << env.status();
  auto db = (*env)->OpenDatabase("t");
  ASSERT_TRUE(db.ok());
  ASSERT_TRUE((*env)->Write([&](Txn& txn) { return txn.Put(*db, "k", "v"); }).ok());
  std::string value;
  ASSERT_TRUE((*env)->Read([&](Txn& txn) -> absl::Status {
    auto got = txn.Get(*db, "k");
    if (!got.ok()) return got.status();
    value = std::string(got->value_or("missing"));
    return absl::OkStatus();
  }).ok());
  EXPECT_EQ(value, "v");
}

TEST(LmdbEnvTest, FailedBodyWritesNothing) {
  auto env = LmdbEnv::Open(MakeTestDir("lmdb"));
  ASSERT_TRUE(env.ok());
  auto db = (*env)->OpenDatabase("t");
  absl::Status status = (*env)->Write([&](Txn& txn) {
    EXPECT_TRUE(txn.Put(*db, "k", "v").ok());
    return absl::InvalidArgumentError("changed my mind");
  });
  EXPECT_EQ(status.code(), absl::StatusCode::kInvalidArgument);
  bool found = true;
  (*env)->Read([&](Txn& txn) {
    found = txn.Get(*db, "k")->has_value();
    return absl::OkStatus();
  }).IgnoreError();
  EXPECT_FALSE(found);
}

TEST(LmdbEnvTest, MapGrowsWhenFull) {
  std::string dir = MakeTestDir("lmdb");
  LmdbEnv::Options options;
  options.initial_map_size = 256 << 10;  // 256 KiB
  auto env = LmdbEnv::Open(dir, options);
  ASSERT_TRUE(env.ok());
  auto db = (*env)->OpenDatabase("t");
  const std::string big(64 << 10, 'x');
  for (int i = 0; i < 100; ++i) {  // ~6.4 MiB in all
    ASSERT_TRUE((*env)->Write([&](Txn& txn) {
      return txn.Put(*db, "key" + std::to_string(i), big);
    }).ok()) << i;
    // Reads in between: their reset transactions are renewed across the
    // map's growth.
    ASSERT_TRUE((*env)->Read([&](Txn& txn) -> absl::Status {
      auto value = txn.Get(*db, "key" + std::to_string(i));
      if (!value.ok()) return value.status();
      return value->has_value() && **value == big ? absl::OkStatus() : absl::NotFoundError("lost");
    }).ok()) << i;
  }
  // LMDB has the writes once the journal hands them over (every 200 ms, or now).
  ASSERT_TRUE((*env)->Flush().ok());
  EXPECT_GT((*env)->map_size(), size_t{6} << 20);
  int count = 0;
  (*env)->Read([&](Txn& txn) {
    return txn.ForEachWithPrefix(*db, "key", [&](auto, std::string_view v) {
      count += v == big;
      return true;
    });
  }).IgnoreError();
  EXPECT_EQ(count, 100);
}

TEST(LmdbEnvTest, PrefixWalkStopsAtPrefixEnd) {
  auto env = LmdbEnv::Open(MakeTestDir("lmdb"));
  auto db = (*env)->OpenDatabase("t");
  (*env)->Write([&](Txn& txn) {
    for (const char* k : {"a1", "b1", "b2", "c1"}) txn.Put(*db, k, "v").IgnoreError();
    return absl::OkStatus();
  }).IgnoreError();
  std::vector<std::string> keys;
  (*env)->Read([&](Txn& txn) {
    return txn.ForEachWithPrefix(*db, "b", [&](std::string_view k, auto) {
      keys.emplace_back(k);
      return true;
    });
  }).IgnoreError();
  EXPECT_EQ(keys, (std::vector<std::string>{"b1", "b2"}));
}

}  // namespace
}  // namespace hsm::storage
