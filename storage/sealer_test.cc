#include "storage/sealer.h"

#include <sys/stat.h>

#include <fstream>

#include "gtest/gtest.h"
#include "storage/test_dir.h"

namespace hsm::storage {
namespace {

std::unique_ptr<Sealer> MakeSealer(char fill = 'k') {
  return *Sealer::Create(std::string(kMasterKeyBytes, fill));
}

TEST(SealerTest, SealedValuesOpenOnlyWhereTheyWereSealed) {
  auto sealer = MakeSealer();
  const std::string secret = "0123456789abcdef-key-material";
  auto sealed = sealer->Seal(1, 1, secret, "object 7 attribute 0x11");
  ASSERT_TRUE(sealed.ok());
  EXPECT_EQ(sealed->ciphertext().find(secret), std::string::npos);
  EXPECT_EQ(*sealer->Open(1, 1, *sealed, "object 7 attribute 0x11"), secret);
  // Another object, token or tenant: the value does not open.
  EXPECT_FALSE(sealer->Open(1, 1, *sealed, "object 8 attribute 0x11").ok());
  EXPECT_FALSE(sealer->Open(1, 2, *sealed, "object 7 attribute 0x11").ok());
  EXPECT_FALSE(sealer->Open(2, 1, *sealed, "object 7 attribute 0x11").ok());
  // Another master key: no.
  EXPECT_FALSE(MakeSealer('z')->Open(1, 1, *sealed, "object 7 attribute 0x11").ok());
  // A flipped bit: no.
  SealedValue altered = *sealed;
  (*altered.mutable_ciphertext())[0] ^= 1;
  EXPECT_EQ(sealer->Open(1, 1, altered, "object 7 attribute 0x11").status().code(), absl::StatusCode::kDataLoss);
}

TEST(SealerTest, NoncesAreFresh) {
  auto sealer = MakeSealer();
  auto a = sealer->Seal(1, 1, "same", "ad");
  auto b = sealer->Seal(1, 1, "same", "ad");
  EXPECT_NE(a->nonce(), b->nonce());
  EXPECT_NE(a->ciphertext(), b->ciphertext());
}

TEST(SealerTest, MasterKeyFileIsCreatedPrivateAndReadBack) {
  const std::string path = MakeTestDir("seal") + "/master.key";
  bool created = false;
  EXPECT_FALSE(Sealer::LoadMasterKey(path, false, &created).ok());
  auto key = Sealer::LoadMasterKey(path, true, &created);
  ASSERT_TRUE(key.ok());
  EXPECT_TRUE(created);
  EXPECT_EQ(key->size(), kMasterKeyBytes);
  struct stat st;
  ASSERT_EQ(stat(path.c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0600u);
  auto again = Sealer::LoadMasterKey(path, true, &created);
  EXPECT_FALSE(created);
  EXPECT_EQ(*again, *key);
}

TEST(SealerTest, MasterKeyFileMayBeHex) {
  const std::string path = MakeTestDir("seal") + "/master.hex";
  std::ofstream(path) << std::string(64, 'a') << "\n";
  auto key = Sealer::LoadMasterKey(path, false, nullptr);
  ASSERT_TRUE(key.ok()) << key.status();
  EXPECT_EQ(*key, std::string(32, '\xaa'));
  std::ofstream(path) << "too short";
  EXPECT_FALSE(Sealer::LoadMasterKey(path, false, nullptr).ok());
  EXPECT_FALSE(Sealer::Create("short").ok());
}

}  // namespace
}  // namespace hsm::storage
