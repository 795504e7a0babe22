#include "storage/sealer.h"

#include <fcntl.h>
#include <openssl/evp.h>
#include <openssl/kdf.h>
#include <openssl/rand.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <fstream>
#include <sstream>

#include "absl/strings/escaping.h"
#include "absl/strings/str_cat.h"
#include "storage/byte_order.h"
#include "storage/token_store.h"

namespace hsm::storage {
namespace {

constexpr size_t kNonceBytes = 12;
constexpr size_t kTagBytes = 16;

using CipherContext = std::unique_ptr<EVP_CIPHER_CTX, decltype(&EVP_CIPHER_CTX_free)>;

const unsigned char* Bytes(const std::string& s) { return reinterpret_cast<const unsigned char*>(s.data()); }

}  // namespace

absl::StatusOr<std::unique_ptr<Sealer>> Sealer::Create(const std::string& master_key) {
  if (master_key.size() != kMasterKeyBytes) {
    return absl::InvalidArgumentError(absl::StrCat("the master key must be ", kMasterKeyBytes, " bytes"));
  }
  return std::unique_ptr<Sealer>(new Sealer(master_key));
}

absl::StatusOr<std::string> Sealer::LoadMasterKey(const std::string& path, bool create_if_missing,
                                                  bool* created) {
  if (created != nullptr) *created = false;
  std::ifstream file(path, std::ios::binary);
  if (!file.good()) {
    if (!create_if_missing) {
      return absl::NotFoundError(absl::StrCat("cannot read the master key file ", path));
    }
    std::string key(kMasterKeyBytes, '\0');
    if (RAND_priv_bytes(reinterpret_cast<unsigned char*>(key.data()), kMasterKeyBytes) != 1) {
      return absl::InternalError("RAND_priv_bytes failed");
    }
    int fd = open(path.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
    if (fd < 0) return absl::InternalError(absl::StrCat("cannot create ", path, ": ", std::strerror(errno)));
    bool ok = write(fd, key.data(), key.size()) == static_cast<ssize_t>(key.size()) && fsync(fd) == 0;
    close(fd);
    if (!ok) return absl::InternalError(absl::StrCat("cannot write ", path));
    if (created != nullptr) *created = true;
    return key;
  }
  std::stringstream content;
  content << file.rdbuf();
  std::string key = content.str();
  if (key.size() == kMasterKeyBytes) return key;
  // Hex, with or without a trailing newline.
  while (!key.empty() && (key.back() == '\n' || key.back() == '\r')) key.pop_back();
  if (key.size() == 2 * kMasterKeyBytes && key.find_first_not_of("0123456789abcdefABCDEF") == std::string::npos) {
    return absl::HexStringToBytes(key);
  }
  return absl::InvalidArgumentError(
      absl::StrCat("the master key file ", path, " must hold 32 bytes or 64 hex digits"));
}

absl::StatusOr<std::string> Sealer::TokenKey(uint64_t tenant_id, uint64_t slot_id) const {
  std::lock_guard<std::mutex> lock(mutex_);
  auto it = token_keys_.find({tenant_id, slot_id});
  if (it != token_keys_.end()) return it->second;
  std::string key(32, '\0');
  const std::string info = "hsm seal v1" + Be64(tenant_id) + Be64(slot_id);
  std::unique_ptr<EVP_PKEY_CTX, decltype(&EVP_PKEY_CTX_free)> ctx(EVP_PKEY_CTX_new_id(EVP_PKEY_HKDF, nullptr),
                                                                  EVP_PKEY_CTX_free);
  size_t length = key.size();
  if (ctx == nullptr || EVP_PKEY_derive_init(ctx.get()) != 1 ||
      EVP_PKEY_CTX_set_hkdf_md(ctx.get(), EVP_sha256()) != 1 ||
      EVP_PKEY_CTX_set1_hkdf_key(ctx.get(), Bytes(master_key_), static_cast<int>(master_key_.size())) != 1 ||
      EVP_PKEY_CTX_add1_hkdf_info(ctx.get(), Bytes(info), static_cast<int>(info.size())) != 1 ||
      EVP_PKEY_derive(ctx.get(), reinterpret_cast<unsigned char*>(key.data()), &length) != 1) {
    return absl::InternalError("HKDF failed");
  }
  token_keys_[{tenant_id, slot_id}] = key;
  return key;
}

absl::StatusOr<SealedValue> Sealer::Seal(uint64_t tenant_id, uint64_t slot_id, const std::string& plaintext,
                                         const std::string& associated_data) const {
  absl::StatusOr<std::string> key = TokenKey(tenant_id, slot_id);
  if (!key.ok()) return key.status();
  std::string nonce(kNonceBytes, '\0');
  if (RAND_bytes(reinterpret_cast<unsigned char*>(nonce.data()), kNonceBytes) != 1) {
    return absl::InternalError("RAND_bytes failed");
  }
  CipherContext ctx(EVP_CIPHER_CTX_new(), EVP_CIPHER_CTX_free);
  std::string out(plaintext.size() + kTagBytes, '\0');
  auto* out_bytes = reinterpret_cast<unsigned char*>(out.data());
  int length = 0, final_length = 0;
  if (ctx == nullptr || EVP_EncryptInit_ex(ctx.get(), EVP_aes_256_gcm(), nullptr, Bytes(*key), Bytes(nonce)) != 1 ||
      EVP_EncryptUpdate(ctx.get(), nullptr, &length, Bytes(associated_data),
                        static_cast<int>(associated_data.size())) != 1 ||
      EVP_EncryptUpdate(ctx.get(), out_bytes, &length, Bytes(plaintext), static_cast<int>(plaintext.size())) != 1 ||
      EVP_EncryptFinal_ex(ctx.get(), out_bytes + length, &final_length) != 1 ||
      EVP_CIPHER_CTX_ctrl(ctx.get(), EVP_CTRL_GCM_GET_TAG, kTagBytes, out_bytes + plaintext.size()) != 1) {
    return absl::InternalError("AES-GCM seal failed");
  }
  SealedValue sealed;
  sealed.set_nonce(nonce);
  sealed.set_ciphertext(out);
  return sealed;
}

absl::StatusOr<std::string> Sealer::Open(uint64_t tenant_id, uint64_t slot_id, const SealedValue& sealed,
                                         const std::string& associated_data) const {
  if (sealed.nonce().size() != kNonceBytes || sealed.ciphertext().size() < kTagBytes) {
    return absl::DataLossError("a sealed value is malformed");
  }
  absl::StatusOr<std::string> key = TokenKey(tenant_id, slot_id);
  if (!key.ok()) return key.status();
  const size_t text_length = sealed.ciphertext().size() - kTagBytes;
  std::string plaintext(text_length, '\0');
  auto* out = reinterpret_cast<unsigned char*>(plaintext.data());
  std::string tag = sealed.ciphertext().substr(text_length);
  CipherContext ctx(EVP_CIPHER_CTX_new(), EVP_CIPHER_CTX_free);
  int length = 0, final_length = 0;
  if (ctx == nullptr ||
      EVP_DecryptInit_ex(ctx.get(), EVP_aes_256_gcm(), nullptr, Bytes(*key), Bytes(sealed.nonce())) != 1 ||
      EVP_DecryptUpdate(ctx.get(), nullptr, &length, Bytes(associated_data),
                        static_cast<int>(associated_data.size())) != 1 ||
      EVP_DecryptUpdate(ctx.get(), out, &length, Bytes(sealed.ciphertext()), static_cast<int>(text_length)) != 1 ||
      EVP_CIPHER_CTX_ctrl(ctx.get(), EVP_CTRL_GCM_SET_TAG, kTagBytes, tag.data()) != 1 ||
      EVP_DecryptFinal_ex(ctx.get(), out + length, &final_length) != 1) {
    return absl::DataLossError("a sealed value does not open: altered, or not sealed for this place");
  }
  return plaintext;
}

}  // namespace hsm::storage
