#include "client/mechanism_codec.h"

#include <string>

namespace hsm::client {
namespace {

std::string Bytes(const void* data, CK_ULONG length) {
  return data == nullptr ? std::string() : std::string(static_cast<const char*>(data), length);
}

template <typename Params>
const Params* ParamsOf(const CK_MECHANISM& mechanism) {
  if (mechanism.pParameter == nullptr || mechanism.ulParameterLen != sizeof(Params)) return nullptr;
  return static_cast<const Params*>(mechanism.pParameter);
}

bool IsPss(CK_MECHANISM_TYPE type) {
  switch (type) {
    case CKM_RSA_PKCS_PSS:
    case CKM_SHA1_RSA_PKCS_PSS:
    case CKM_SHA224_RSA_PKCS_PSS:
    case CKM_SHA256_RSA_PKCS_PSS:
    case CKM_SHA384_RSA_PKCS_PSS:
    case CKM_SHA512_RSA_PKCS_PSS:
      return true;
    default:
      return false;
  }
}

bool TakesIv(CK_MECHANISM_TYPE type) {
  switch (type) {
    case CKM_AES_CBC:
    case CKM_AES_CBC_PAD:
    case CKM_DES3_CBC:
    case CKM_DES3_CBC_PAD:
    case CKM_AES_KEY_WRAP:
    case CKM_AES_KEY_WRAP_PAD:
    case CKM_AES_CFB8:
    case CKM_AES_CFB128:
    case CKM_AES_OFB:
      return true;
    default:
      return false;
  }
}

bool TakesMacLength(CK_MECHANISM_TYPE type) {
  switch (type) {
    case CKM_SHA_1_HMAC_GENERAL:
    case CKM_SHA224_HMAC_GENERAL:
    case CKM_SHA256_HMAC_GENERAL:
    case CKM_SHA384_HMAC_GENERAL:
    case CKM_SHA512_HMAC_GENERAL:
    case CKM_AES_MAC_GENERAL:
    case CKM_AES_CMAC_GENERAL:
    case CKM_DES3_MAC_GENERAL:
      return true;
    default:
      return false;
  }
}

}  // namespace

CK_RV EncodeMechanism(const CK_MECHANISM* mechanism, hsm::v1::Mechanism* out) {
  if (mechanism == nullptr) return CKR_ARGUMENTS_BAD;
  const CK_MECHANISM& m = *mechanism;
  out->set_type(m.mechanism);
  if (IsPss(m.mechanism)) {
    const auto* p = ParamsOf<CK_RSA_PKCS_PSS_PARAMS>(m);
    if (p == nullptr) return CKR_MECHANISM_PARAM_INVALID;
    out->mutable_pss()->set_hash_alg(p->hashAlg);
    out->mutable_pss()->set_mgf(p->mgf);
    out->mutable_pss()->set_salt_len(p->sLen);
  } else if (m.mechanism == CKM_RSA_PKCS_OAEP) {
    const auto* p = ParamsOf<CK_RSA_PKCS_OAEP_PARAMS>(m);
    if (p == nullptr) return CKR_MECHANISM_PARAM_INVALID;
    if (p->pSourceData == nullptr && p->ulSourceDataLen != 0) return CKR_MECHANISM_PARAM_INVALID;
    auto* oaep = out->mutable_oaep();
    oaep->set_hash_alg(p->hashAlg);
    oaep->set_mgf(p->mgf);
    oaep->set_source(p->source);
    oaep->set_source_data(Bytes(p->pSourceData, p->ulSourceDataLen));
  } else if (m.mechanism == CKM_AES_GCM) {
    const auto* p = ParamsOf<CK_GCM_PARAMS>(m);
    if (p == nullptr) return CKR_MECHANISM_PARAM_INVALID;
    if ((p->pIv == nullptr && p->ulIvLen != 0) || (p->pAAD == nullptr && p->ulAADLen != 0)) {
      return CKR_MECHANISM_PARAM_INVALID;
    }
    auto* gcm = out->mutable_gcm();
    gcm->set_iv(Bytes(p->pIv, p->ulIvLen));
    gcm->set_iv_bits(p->ulIvBits);
    gcm->set_aad(Bytes(p->pAAD, p->ulAADLen));
    gcm->set_tag_bits(p->ulTagBits);
  } else if (m.mechanism == CKM_AES_CTR) {
    const auto* p = ParamsOf<CK_AES_CTR_PARAMS>(m);
    if (p == nullptr) return CKR_MECHANISM_PARAM_INVALID;
    out->mutable_ctr()->set_counter_bits(p->ulCounterBits);
    out->mutable_ctr()->set_counter_block(Bytes(p->cb, sizeof(p->cb)));
  } else if (m.mechanism == CKM_ECDH1_DERIVE || m.mechanism == CKM_ECDH1_COFACTOR_DERIVE) {
    const auto* p = ParamsOf<CK_ECDH1_DERIVE_PARAMS>(m);
    if (p == nullptr) return CKR_MECHANISM_PARAM_INVALID;
    if ((p->pSharedData == nullptr && p->ulSharedDataLen != 0) ||
        (p->pPublicData == nullptr && p->ulPublicDataLen != 0)) {
      return CKR_MECHANISM_PARAM_INVALID;
    }
    auto* ecdh = out->mutable_ecdh1();
    ecdh->set_kdf(p->kdf);
    ecdh->set_shared_data(Bytes(p->pSharedData, p->ulSharedDataLen));
    ecdh->set_public_data(Bytes(p->pPublicData, p->ulPublicDataLen));
  } else if (TakesMacLength(m.mechanism)) {
    const auto* p = ParamsOf<CK_ULONG>(m);  // CK_MAC_GENERAL_PARAMS
    if (p == nullptr) return CKR_MECHANISM_PARAM_INVALID;
    out->set_mac_length(*p);
  } else if (TakesIv(m.mechanism)) {
    if (m.pParameter == nullptr && m.ulParameterLen != 0) return CKR_MECHANISM_PARAM_INVALID;
    out->set_iv(Bytes(m.pParameter, m.ulParameterLen));
  } else if (m.ulParameterLen != 0) {
    if (m.pParameter == nullptr) return CKR_MECHANISM_PARAM_INVALID;
    out->set_data(Bytes(m.pParameter, m.ulParameterLen));
  }
  return CKR_OK;
}

}  // namespace hsm::client
