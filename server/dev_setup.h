// Development mode's first start: one tenant ("dev") with one initialized
// token, so that a newcomer can point a PKCS #11 application at hsmd at once.
// The token's PINs are random and written to DATA_DIR/dev-token.txt (0600),
// never to the log.
#ifndef HSM_SERVER_DEV_SETUP_H_
#define HSM_SERVER_DEV_SETUP_H_

#include <cstdint>
#include <string>

#include "absl/status/statusor.h"
#include "server/hsm.h"
#include "storage/token_store.h"

namespace hsm::server {

inline constexpr char kDevTenantName[] = "dev";
inline constexpr char kDevTokenLabel[] = "dev-token";
inline constexpr char kDevTokenFile[] = "dev-token.txt";

// The development tenant's id, creating the tenant and its token if needed.
absl::StatusOr<uint64_t> EnsureDevTenant(storage::TokenStore& store, const std::string& data_dir,
                                         const HsmOptions& options);

// A new token record for `tenant_id` with `label`, initialized with the given
// PINs (empty user PIN: not initialized). Its slot id is set when stored.
absl::StatusOr<storage::Token> NewToken(uint64_t tenant_id, const std::string& label,
                                        const std::string& so_pin, const std::string& user_pin,
                                        const HsmOptions& options);

}  // namespace hsm::server

#endif  // HSM_SERVER_DEV_SETUP_H_
