// Which tenant a TLS client is: the --tenants file maps certificate identities
// to tenants, and lists revoked certificates.
//
//   # tenant     identity: a subject alternative name (URI, DNS) or the subject
//   tenant ca-east spiffe://pki.example/ca-east
//   tenant kra     CN=kra.example.com,O=Example
//   revoke 3A7F09      # a certificate serial number, hex
//
// A certificate that maps to no tenant, or is revoked, is refused before any
// PKCS #11 call runs.
#ifndef HSM_SERVER_TENANT_MAP_H_
#define HSM_SERVER_TENANT_MAP_H_

#include <map>
#include <set>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "server/pkcs11_service.h"
#include "storage/token_store.h"

namespace hsm::server {

class TenantMap {
 public:
  static absl::StatusOr<TenantMap> Load(const std::string& path);
  static absl::StatusOr<TenantMap> Parse(const std::string& text, const std::string& source);

  // The tenant of the first identity that maps to one.
  std::optional<std::string> TenantFor(const std::vector<std::string>& identities) const;
  bool IsRevoked(const std::string& serial_hex) const;

 private:
  std::map<std::string, std::string> tenant_by_identity_;
  std::set<std::string> revoked_;
};

// The caller of a TLS call: its certificate's identities looked up in `map`,
// the tenant looked up in `tokens`.
CallerResolver TlsCallerResolver(TenantMap map, storage::TokenStore* tokens);

// Development without TLS: every caller is `tenant`.
CallerResolver FixedCallerResolver(uint64_t tenant_id, std::string tenant);

}  // namespace hsm::server

#endif  // HSM_SERVER_TENANT_MAP_H_
