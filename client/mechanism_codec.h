// CK_MECHANISM -> wire Mechanism: one typed message per parameter structure,
// so the server never reads a C struct.
#ifndef HSM_CLIENT_MECHANISM_CODEC_H_
#define HSM_CLIENT_MECHANISM_CODEC_H_

#include "proto/hsm/v1/pkcs11.pb.h"
#include "third_party/pkcs11/pkcs11.h"

namespace hsm::client {

// CKR_ARGUMENTS_BAD for a NULL mechanism; CKR_MECHANISM_PARAM_INVALID when the
// parameter does not have the size its structure needs.
CK_RV EncodeMechanism(const CK_MECHANISM* mechanism, hsm::v1::Mechanism* out);

}  // namespace hsm::client

#endif  // HSM_CLIENT_MECHANISM_CODEC_H_
