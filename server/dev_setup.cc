#include "server/dev_setup.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <openssl/rand.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "absl/strings/escaping.h"
#include "absl/strings/str_cat.h"
#include "server/log.h"
#include "server/pin_verifier.h"

namespace hsm::server {
namespace {

absl::StatusOr<std::string> RandomPin(size_t length) {
  static constexpr char kAlphabet[] =
      "ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnopqrstuvwxyz23456789";  // no look-alikes
  std::string bytes(length, '\0');
  if (RAND_bytes(reinterpret_cast<unsigned char*>(bytes.data()), static_cast<int>(length)) != 1) {
    return absl::InternalError("RAND_bytes failed");
  }
  std::string pin;
  for (char byte : bytes) pin += kAlphabet[static_cast<unsigned char>(byte) % (sizeof(kAlphabet) - 1)];
  return pin;
}

absl::Status WriteSecretFile(const std::string& path, const std::string& content) {
  int fd = open(path.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
  if (fd < 0) return absl::InternalError(absl::StrCat("cannot write ", path, ": ", std::strerror(errno)));
  fchmod(fd, 0600);
  bool ok = write(fd, content.data(), content.size()) == static_cast<ssize_t>(content.size());
  ok = fsync(fd) == 0 && ok;
  close(fd);
  return ok ? absl::OkStatus() : absl::InternalError(absl::StrCat("cannot write ", path));
}

}  // namespace

absl::StatusOr<storage::Token> NewToken(uint64_t tenant_id, const std::string& label,
                                        const std::string& so_pin, const std::string& user_pin,
                                        const HsmOptions& options) {
  storage::Token token;
  token.set_tenant_id(tenant_id);
  token.set_label(label);
  std::string serial(8, '\0');
  RAND_bytes(reinterpret_cast<unsigned char*>(serial.data()), static_cast<int>(serial.size()));
  token.set_serial_number(absl::BytesToHexString(serial));
  token.set_initialized(true);
  absl::StatusOr<storage::PinVerifier> so = MakePinVerifier(so_pin, options.pin_kdf_iterations);
  if (!so.ok()) return so.status();
  *token.mutable_so_pin() = *so;
  if (!user_pin.empty()) {
    absl::StatusOr<storage::PinVerifier> user = MakePinVerifier(user_pin, options.pin_kdf_iterations);
    if (!user.ok()) return user.status();
    *token.mutable_user_pin() = *user;
  }
  return token;
}

absl::StatusOr<uint64_t> EnsureDevTenant(storage::TokenStore& store, const std::string& data_dir,
                                         const HsmOptions& options) {
  absl::StatusOr<std::optional<storage::Tenant>> existing = store.FindTenant(kDevTenantName);
  if (!existing.ok()) return existing.status();
  if (existing->has_value()) return (*existing)->id();

  absl::StatusOr<std::string> so_pin = RandomPin(16);
  absl::StatusOr<std::string> user_pin = RandomPin(12);
  if (!so_pin.ok() || !user_pin.ok()) return absl::InternalError("cannot make PINs");
  absl::StatusOr<storage::Tenant> tenant = store.CreateTenant(kDevTenantName);
  if (!tenant.ok()) return tenant.status();
  absl::StatusOr<storage::Token> token = NewToken(tenant->id(), kDevTokenLabel, *so_pin, *user_pin, options);
  if (!token.ok()) return token.status();
  absl::StatusOr<storage::Token> stored = store.CreateToken(*token);
  if (!stored.ok()) return stored.status();

  const std::string path = absl::StrCat(data_dir, "/", kDevTokenFile);
  absl::Status written = WriteSecretFile(
      path, absl::StrCat("label=", kDevTokenLabel, "\nslot_id=", stored->slot_id(),
                         "\nso_pin=", *so_pin, "\nuser_pin=", *user_pin, "\n"));
  if (!written.ok()) return written;
  LogInfo(absl::StrCat("created development tenant '", kDevTenantName, "' with token '",
                       kDevTokenLabel, "' in slot ", stored->slot_id(), "; its PINs are in ", path));
  return tenant->id();
}

}  // namespace hsm::server
