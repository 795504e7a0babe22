// The wire's typed mechanism parameters (proto Mechanism) as the crypto
// library's MechanismParams.
#ifndef HSM_SERVER_MECHANISM_PARAMS_H_
#define HSM_SERVER_MECHANISM_PARAMS_H_

#include "proto/hsm/v1/pkcs11.pb.h"
#include "server/crypto/operation.h"

namespace hsm::server {

crypto::MechanismParams ToMechanismParams(const hsm::v1::Mechanism& mechanism);

}  // namespace hsm::server

#endif  // HSM_SERVER_MECHANISM_PARAMS_H_
