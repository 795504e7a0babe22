#include "server/tenant_map.h"

#include <openssl/bn.h>
#include <openssl/pem.h>
#include <openssl/x509.h>

#include <algorithm>
#include <cctype>
#include <fstream>
#include <memory>
#include <mutex>
#include <sstream>
#include <unordered_map>

#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"

namespace hsm::server {
namespace {

std::string NormalizeSerial(std::string hex) {
  hex = absl::AsciiStrToUpper(hex);
  hex.erase(std::remove(hex.begin(), hex.end(), ':'), hex.end());
  size_t first = hex.find_first_not_of('0');
  return first == std::string::npos ? "0" : hex.substr(first);
}

// The serial number of a PEM certificate, as upper-case hex without leading zeros.
std::string SerialOf(const std::string& pem) {
  std::unique_ptr<BIO, decltype(&BIO_free)> bio(BIO_new_mem_buf(pem.data(), static_cast<int>(pem.size())), BIO_free);
  std::unique_ptr<X509, decltype(&X509_free)> cert(PEM_read_bio_X509(bio.get(), nullptr, nullptr, nullptr),
                                                   X509_free);
  if (cert == nullptr) return "";
  std::unique_ptr<BIGNUM, decltype(&BN_free)> bn(ASN1_INTEGER_to_BN(X509_get_serialNumber(cert.get()), nullptr),
                                                 BN_free);
  char* hex = BN_bn2hex(bn.get());
  std::string out = hex != nullptr ? hex : "";
  OPENSSL_free(hex);
  return NormalizeSerial(out);
}

// SerialOf for the certificates of connected clients: parsing the PEM on
// every call cost more than the rest of a small call. Bounded: a flood of
// new certificates only clears it.
class SerialCache {
 public:
  std::string SerialOf(const std::string& pem) {
    {
      std::lock_guard<std::mutex> lock(mutex_);
      auto it = serial_by_pem_.find(pem);
      if (it != serial_by_pem_.end()) return it->second;
    }
    std::string serial = hsm::server::SerialOf(pem);
    std::lock_guard<std::mutex> lock(mutex_);
    if (serial_by_pem_.size() >= kMaxEntries) serial_by_pem_.clear();
    serial_by_pem_.emplace(pem, serial);
    return serial;
  }

 private:
  static constexpr size_t kMaxEntries = 4096;
  std::mutex mutex_;
  std::unordered_map<std::string, std::string> serial_by_pem_;
};

}  // namespace

absl::StatusOr<TenantMap> TenantMap::Load(const std::string& path) {
  std::ifstream file(path);
  if (!file.good()) return absl::NotFoundError(absl::StrCat("cannot read the tenant map ", path));
  std::stringstream content;
  content << file.rdbuf();
  return Parse(content.str(), path);
}

absl::StatusOr<TenantMap> TenantMap::Parse(const std::string& text, const std::string& source) {
  TenantMap map;
  std::istringstream lines(text);
  std::string line;
  for (int number = 1; std::getline(lines, line); ++number) {
    size_t hash = line.find('#');
    if (hash != std::string::npos) line.resize(hash);
    std::istringstream words(line);
    std::string verb;
    if (!(words >> verb)) continue;
    if (verb == "tenant") {
      std::string tenant, identity;
      words >> tenant;
      std::getline(words, identity);
      identity = std::string(absl::StripAsciiWhitespace(identity));
      if (tenant.empty() || identity.empty()) {
        return absl::InvalidArgumentError(absl::StrCat(source, ":", number, ": want 'tenant NAME IDENTITY'"));
      }
      map.tenant_by_identity_[identity] = tenant;
    } else if (verb == "revoke") {
      std::string serial;
      words >> serial;
      if (serial.empty() || serial.find_first_not_of("0123456789abcdefABCDEF:") != std::string::npos) {
        return absl::InvalidArgumentError(absl::StrCat(source, ":", number, ": want 'revoke SERIAL_HEX'"));
      }
      map.revoked_.insert(NormalizeSerial(serial));
    } else {
      return absl::InvalidArgumentError(absl::StrCat(source, ":", number, ": unknown entry '", verb, "'"));
    }
  }
  return map;
}

std::optional<std::string> TenantMap::TenantFor(const std::vector<std::string>& identities) const {
  for (const std::string& identity : identities) {
    auto it = tenant_by_identity_.find(identity);
    if (it != tenant_by_identity_.end()) return it->second;
  }
  return std::nullopt;
}

bool TenantMap::IsRevoked(const std::string& serial_hex) const { return revoked_.count(NormalizeSerial(serial_hex)) != 0; }

CallerResolver TlsCallerResolver(TenantMap map, storage::TokenStore* tokens) {
  auto serials = std::make_shared<SerialCache>();
  return [map = std::move(map), tokens, serials](const grpc::ServerContextBase& context) -> absl::StatusOr<Caller> {
    std::shared_ptr<const grpc::AuthContext> auth = context.auth_context();
    if (auth == nullptr || !auth->IsPeerAuthenticated()) {
      return absl::UnauthenticatedError("no client certificate");
    }
    std::vector<std::string> identities;
    for (const char* property : {GRPC_X509_SAN_PROPERTY_NAME, GRPC_X509_SUBJECT_PROPERTY_NAME, GRPC_X509_CN_PROPERTY_NAME}) {
      for (const grpc::string_ref& value : auth->FindPropertyValues(property)) {
        identities.emplace_back(value.data(), value.size());
      }
    }
    std::string serial;
    for (const grpc::string_ref& pem : auth->FindPropertyValues(GRPC_X509_PEM_CERT_PROPERTY_NAME)) {
      serial = serials->SerialOf(std::string(pem.data(), pem.size()));
    }
    if (serial.empty() || map.IsRevoked(serial)) return absl::UnauthenticatedError("client certificate revoked");
    std::optional<std::string> tenant = map.TenantFor(identities);
    if (!tenant.has_value()) return absl::UnauthenticatedError("client certificate maps to no tenant");
    absl::StatusOr<std::optional<storage::Tenant>> found = tokens->FindTenant(*tenant);
    if (!found.ok() || !found->has_value()) return absl::UnauthenticatedError("client certificate maps to no tenant");
    return Caller{(*found)->id(), *tenant, identities.empty() ? serial : identities.front()};
  };
}

CallerResolver FixedCallerResolver(uint64_t tenant_id, std::string tenant) {
  return [tenant_id, tenant = std::move(tenant)](const grpc::ServerContextBase&) -> absl::StatusOr<Caller> {
    return Caller{tenant_id, tenant, "development"};
  };
}

}  // namespace hsm::server
