#include "storage/object_store.h"

#include <fstream>
#include <iterator>

#include "gtest/gtest.h"
#include "storage/test_dir.h"
#include "third_party/pkcs11/pkcs11.h"

namespace hsm::storage {
namespace {

AttributeSet Set(std::initializer_list<hsm::v1::Attribute> attributes) {
  AttributeSet set;
  for (const auto& a : attributes) set[a.type()] = a;
  return set;
}

// Matches when every attribute of `query` is there with the same value.
ObjectStore::Matcher Matching(const AttributeSet& query) {
  return [query](const AttributeSet& plain, const std::set<uint64_t>&) {
    for (const auto& [type, want] : query) {
      auto it = plain.find(type);
      if (it == plain.end() || it->second.SerializeAsString() != want.SerializeAsString()) return false;
    }
    return true;
  };
}

class ObjectStoreTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = MakeTestDir("obj");
    Reopen();
  }
  void Reopen() {
    store_.reset();
    env_.reset();
    env_ = std::move(*LmdbEnv::Open(dir_));
    sealer_ = std::move(*Sealer::Create(std::string(kMasterKeyBytes, 'm')));
    store_ = std::move(*ObjectStore::Open(env_.get(), sealer_.get()));
  }
  std::string DatabaseBytes() {
    std::ifstream file(dir_ + "/data.mdb", std::ios::binary);
    return std::string(std::istreambuf_iterator<char>(file), std::istreambuf_iterator<char>());
  }

  std::string dir_;
  std::unique_ptr<LmdbEnv> env_;
  std::unique_ptr<Sealer> sealer_;
  std::unique_ptr<ObjectStore> store_;
  TokenRef token_{1, 1};
};

// Opens the store in `dir` under a master key of 32 `key_byte`s.
absl::Status OpenWithMasterKey(const std::string& dir, char key_byte) {
  auto env = LmdbEnv::Open(dir);
  if (!env.ok()) return env.status();
  auto sealer = Sealer::Create(std::string(kMasterKeyBytes, key_byte));
  if (!sealer.ok()) return sealer.status();
  return ObjectStore::Open(env->get(), sealer->get()).status();
}

TEST_F(ObjectStoreTest, AnotherMasterKeyIsRefusedAtOpen) {
  // Before this check, every key's use failed under the wrong master key, and
  // keys made meanwhile were sealed under it: lost to the right one.
  ASSERT_TRUE(store_->Create(token_, Set({MakeUlong(CKA_CLASS, CKO_SECRET_KEY), MakeBytes(CKA_VALUE, "k")}),
                             {CKA_VALUE})
                  .ok());
  store_.reset();
  env_.reset();
  absl::Status wrong = OpenWithMasterKey(dir_, 'w');
  EXPECT_EQ(wrong.code(), absl::StatusCode::kFailedPrecondition) << wrong;
  EXPECT_NE(wrong.message().find("master key"), std::string_view::npos);
  EXPECT_TRUE(OpenWithMasterKey(dir_, 'm').ok());
  // An empty store is refused too: the check is kept from the first open on.
  const std::string empty = MakeTestDir("obj");
  ASSERT_TRUE(OpenWithMasterKey(empty, 'a').ok());
  EXPECT_EQ(OpenWithMasterKey(empty, 'b').code(), absl::StatusCode::kFailedPrecondition);
}

TEST_F(ObjectStoreTest, DataFromBeforeTheCheckIsCheckedByItsFirstSealedValue) {
  ASSERT_TRUE(store_->Create(token_, Set({MakeUlong(CKA_CLASS, CKO_DATA)}), {}).ok());
  ASSERT_TRUE(store_->Create(token_, Set({MakeUlong(CKA_CLASS, CKO_SECRET_KEY), MakeBytes(CKA_VALUE, "k")}),
                             {CKA_VALUE})
                  .ok());
  auto meta = env_->OpenDatabase("meta");
  ASSERT_TRUE(meta.ok());
  ASSERT_TRUE(env_->Write([&](Txn& txn) { return txn.Delete(*meta, "master_key_check"); }).ok());
  store_.reset();
  env_.reset();
  EXPECT_EQ(OpenWithMasterKey(dir_, 'w').code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_TRUE(OpenWithMasterKey(dir_, 'm').ok());  // and keeps the check from now on
  EXPECT_EQ(OpenWithMasterKey(dir_, 'w').code(), absl::StatusCode::kFailedPrecondition);
}

TEST_F(ObjectStoreTest, CreateLoadReplaceDestroy) {
  auto id = store_->Create(token_, Set({MakeUlong(CKA_CLASS, CKO_DATA), MakeBytes(CKA_LABEL, "first")}), {});
  ASSERT_TRUE(id.ok());
  auto loaded = store_->Load(token_, *id);
  ASSERT_TRUE(loaded.ok() && loaded->has_value());
  EXPECT_EQ((**loaded).at(CKA_LABEL).bytes(), "first");
  ASSERT_TRUE(
      store_->Replace(token_, *id, Set({MakeUlong(CKA_CLASS, CKO_DATA), MakeBytes(CKA_LABEL, "second")}), {})
          .ok());
  EXPECT_EQ((**store_->Load(token_, *id)).at(CKA_LABEL).bytes(), "second");
  ASSERT_TRUE(store_->Destroy(token_, *id).ok());
  EXPECT_FALSE(store_->Load(token_, *id)->has_value());
  EXPECT_EQ(store_->Destroy(token_, *id).code(), absl::StatusCode::kNotFound);
  // Ids are never reused.
  auto next = store_->Create(token_, Set({MakeUlong(CKA_CLASS, CKO_DATA)}), {});
  EXPECT_GT(*next, *id);
}

TEST_F(ObjectStoreTest, SecretsAreSealedAtRestAndOpenAfterReopen) {
  const std::string key_bytes = "KEYMATERIAL-0123456789-abcdefghij";
  auto id = store_->Create(
      token_, Set({MakeUlong(CKA_CLASS, CKO_SECRET_KEY), MakeBytes(CKA_VALUE, key_bytes)}), {CKA_VALUE});
  ASSERT_TRUE(id.ok());
  Reopen();
  EXPECT_EQ(DatabaseBytes().find(key_bytes), std::string::npos);
  auto loaded = store_->Load(token_, *id);
  ASSERT_TRUE(loaded.ok()) << loaded.status();
  EXPECT_EQ((**loaded).at(CKA_VALUE).bytes(), key_bytes);
  // Sealed values are neither indexed nor shown to a matcher.
  auto found = store_->Find(token_, Set({MakeBytes(CKA_VALUE, key_bytes)}),
                            Matching(Set({MakeBytes(CKA_VALUE, key_bytes)})));
  EXPECT_TRUE(found->empty());
}

TEST_F(ObjectStoreTest, FindUsesIndexesAndMatchesExactly) {
  for (int i = 0; i < 50; ++i) {
    store_
        ->Create(token_,
                 Set({MakeUlong(CKA_CLASS, i % 2 ? CKO_CERTIFICATE : CKO_PRIVATE_KEY),
                      MakeBytes(CKA_ID, "id" + std::to_string(i % 10)),
                      MakeBytes(CKA_LABEL, "l" + std::to_string(i))}),
                 {})
        .IgnoreError();
  }
  int looked_at = 0;
  AttributeSet query = Set({MakeBytes(CKA_ID, "id3"), MakeUlong(CKA_CLASS, CKO_CERTIFICATE)});
  auto found = store_->Find(token_, query, [&](const AttributeSet& plain, const std::set<uint64_t>& sealed) {
    ++looked_at;
    return Matching(query)(plain, sealed);
  });
  ASSERT_TRUE(found.ok());
  EXPECT_EQ(found->size(), 5u);  // i = 3, 13, 23, 33, 43: all odd, so certificates
  EXPECT_EQ(looked_at, 5);       // only the objects with CKA_ID "id3" were read
  auto all = store_->Find(token_, {}, Matching({}));
  EXPECT_EQ(all->size(), 50u);
}

// A search that reads many objects says so once, whether an index gave them
// (all of one class) or none did; a narrow one says nothing.
TEST_F(ObjectStoreTest, LongSearchesSaySo) {
  for (size_t i = 0; i <= ObjectStore::kLongSearchObjects; ++i) {
    ASSERT_TRUE(
        store_->Create(token_, Set({MakeUlong(CKA_CLASS, CKO_DATA), MakeBytes(CKA_LABEL, std::to_string(i))}), {})
            .ok());
  }
  int told = 0;
  auto count = [&] { ++told; };
  const AttributeSet by_label = Set({MakeBytes(CKA_LABEL, "7")});
  EXPECT_EQ(store_->Find(token_, by_label, Matching(by_label), count)->size(), 1u);
  EXPECT_EQ(told, 0);
  const AttributeSet by_class = Set({MakeUlong(CKA_CLASS, CKO_DATA)});
  EXPECT_EQ(store_->Find(token_, by_class, Matching(by_class), count)->size(), ObjectStore::kLongSearchObjects + 1);
  EXPECT_EQ(told, 1);
  const AttributeSet unindexed = Set({MakeBool(CKA_TOKEN, true)});
  EXPECT_TRUE(store_->Find(token_, unindexed, Matching(unindexed), count)->empty());
  EXPECT_EQ(told, 2);
}

TEST_F(ObjectStoreTest, IssuerAndSerialTogether) {
  store_->Create(token_, Set({MakeBytes(CKA_ISSUER, "CA"), MakeBytes(CKA_SERIAL_NUMBER, "\x02\x01\x05")}), {})
      .IgnoreError();
  store_->Create(token_, Set({MakeBytes(CKA_ISSUER, "CA"), MakeBytes(CKA_SERIAL_NUMBER, "\x02\x01\x06")}), {})
      .IgnoreError();
  AttributeSet query = Set({MakeBytes(CKA_ISSUER, "CA"), MakeBytes(CKA_SERIAL_NUMBER, "\x02\x01\x06")});
  EXPECT_EQ(store_->Find(token_, query, Matching(query))->size(), 1u);
}

TEST_F(ObjectStoreTest, TenantObjectCountFollowsEveryChange) {
  TokenRef second_token{1, 2}, other_tenant{2, 1};
  EXPECT_EQ(*store_->CountTenant(1), 0u);
  auto a = store_->Create(token_, Set({MakeBytes(CKA_LABEL, "a")}), {});
  store_->Create(token_, Set({MakeBytes(CKA_LABEL, "b")}), {}).IgnoreError();
  store_->Create(second_token, Set({MakeBytes(CKA_LABEL, "c")}), {}).IgnoreError();
  store_->Create(other_tenant, Set({MakeBytes(CKA_LABEL, "d")}), {}).IgnoreError();
  EXPECT_EQ(*store_->CountTenant(1), 3u);
  EXPECT_EQ(*store_->CountTenant(2), 1u);
  ASSERT_TRUE(store_->Destroy(token_, *a).ok());
  EXPECT_EQ(*store_->CountTenant(1), 2u);
  EXPECT_FALSE(store_->Destroy(token_, *a).ok());  // a failed destroy counts nothing
  EXPECT_EQ(*store_->CountTenant(1), 2u);
  ASSERT_TRUE(store_->DestroyAll(token_).ok());
  EXPECT_EQ(*store_->CountTenant(1), 1u);
  Reopen();
  EXPECT_EQ(*store_->CountTenant(1), 1u);
  EXPECT_EQ(*store_->CountTenant(2), 1u);
}

TEST_F(ObjectStoreTest, TokensAreSeparate) {
  TokenRef other{1, 2}, other_tenant{2, 1};
  store_->Create(token_, Set({MakeBytes(CKA_LABEL, "mine")}), {}).IgnoreError();
  EXPECT_TRUE(store_->Find(other, {}, Matching({}))->empty());
  EXPECT_TRUE(store_->Find(other_tenant, {}, Matching({}))->empty());
  EXPECT_EQ(*store_->Count(token_), 1u);
  ASSERT_TRUE(store_->DestroyAll(token_).ok());
  EXPECT_EQ(*store_->Count(token_), 0u);
  AttributeSet query = Set({MakeBytes(CKA_LABEL, "mine")});
  EXPECT_TRUE(store_->Find(token_, query, Matching(query))->empty());
}

}  // namespace
}  // namespace hsm::storage
