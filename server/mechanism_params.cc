#include "server/mechanism_params.h"

namespace hsm::server {

crypto::MechanismParams ToMechanismParams(const hsm::v1::Mechanism& mechanism) {
  crypto::MechanismParams params;
  params.type = mechanism.type();
  switch (mechanism.parameter_case()) {
    case hsm::v1::Mechanism::kIv:
      params.iv = mechanism.iv();
      break;
    case hsm::v1::Mechanism::kPss:
      params.pss = crypto::MechanismParams::Pss{mechanism.pss().hash_alg(), mechanism.pss().mgf(),
                                                mechanism.pss().salt_len()};
      break;
    case hsm::v1::Mechanism::kOaep:
      params.oaep = crypto::MechanismParams::Oaep{mechanism.oaep().hash_alg(), mechanism.oaep().mgf(),
                                                  mechanism.oaep().source(), mechanism.oaep().source_data()};
      break;
    case hsm::v1::Mechanism::kGcm:
      params.gcm = crypto::MechanismParams::Gcm{mechanism.gcm().iv(), mechanism.gcm().iv_bits(),
                                                mechanism.gcm().aad(), mechanism.gcm().tag_bits()};
      break;
    case hsm::v1::Mechanism::kCtr:
      params.ctr = crypto::MechanismParams::Ctr{mechanism.ctr().counter_bits(), mechanism.ctr().counter_block()};
      break;
    case hsm::v1::Mechanism::kEcdh1:
      params.ecdh = crypto::MechanismParams::Ecdh{mechanism.ecdh1().kdf(), mechanism.ecdh1().shared_data(),
                                                  mechanism.ecdh1().public_data()};
      break;
    case hsm::v1::Mechanism::kMacLength:
      params.mac_length = mechanism.mac_length();
      break;
    case hsm::v1::Mechanism::kData:
    case hsm::v1::Mechanism::PARAMETER_NOT_SET:
      break;
  }
  return params;
}

}  // namespace hsm::server
