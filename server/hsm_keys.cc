// Key management (PKCS #11 2.40 section 5.14): keys are generated, unwrapped
// and derived inside hsmd, and leave it only wrapped, and only if extractable.
#include "server/attribute_rules.h"
#include "server/blocking.h"
#include "server/crypto/mechanism_table.h"
#include "server/hsm.h"
#include "server/mechanism_params.h"
#include "server/object_templates.h"
#include "server/rv.h"

namespace hsm::server {
namespace {

bool IsSecurityOfficer(Application& app, uint64_t slot_id) {
  std::lock_guard<std::mutex> lock(app.mutex());
  return app.login(slot_id) == LoginState::kSecurityOfficer;
}

// The attribute `type` from a request template, if given.
const hsm::v1::Attribute* FindInTemplate(const Template& attributes, uint64_t type) {
  for (const hsm::v1::Attribute& attribute : attributes) {
    if (attribute.type() == type) return &attribute;
  }
  return nullptr;
}

void AddBytes(AttributeSet& set, const crypto::AttributeBytes& bytes) {
  for (const auto& [type, value] : bytes) set[type] = MakeBytes(type, value);
}

absl::Status RequireMechanism(uint64_t type, CK_FLAGS function) {
  const crypto::MechanismInfo* info = crypto::FindMechanism(type);
  if (info == nullptr || (info->flags & function) == 0) return RvError(CKR_MECHANISM_INVALID);
  return absl::OkStatus();
}

// The secret key type a key-generation mechanism makes.
absl::StatusOr<CK_KEY_TYPE> SecretKeyTypeOf(uint64_t mechanism) {
  switch (mechanism) {
    case CKM_AES_KEY_GEN:
      return static_cast<CK_KEY_TYPE>(CKK_AES);
    case CKM_DES3_KEY_GEN:
      return static_cast<CK_KEY_TYPE>(CKK_DES3);
    case CKM_GENERIC_SECRET_KEY_GEN:
      return static_cast<CK_KEY_TYPE>(CKK_GENERIC_SECRET);
  }
  return RvError(CKR_MECHANISM_INVALID);
}

// The CKA_VALUE_LEN a template asks for: required except for DES3 keys.
absl::StatusOr<CK_ULONG> ValueLength(const Template& attributes, CK_KEY_TYPE key_type) {
  const hsm::v1::Attribute* length = FindInTemplate(attributes, CKA_VALUE_LEN);
  if (length == nullptr) {
    if (key_type == CKK_DES3) return CK_ULONG{24};
    return RvError(CKR_TEMPLATE_INCOMPLETE, "CKA_VALUE_LEN is required");
  }
  if (!length->has_ulong()) return RvError(CKR_ATTRIBUTE_VALUE_INVALID);
  return static_cast<CK_ULONG>(length->ulong());
}

}  // namespace

absl::StatusOr<uint64_t> Hsm::StoreNewKey(Application& app, const Session& session, const AttributeSet& object,
                                          crypto::EvpPkeyPtr pkey) {
  const uint64_t version = keys_.version();
  HSM_ASSIGN_OR_RETURN(uint64_t handle, StoreNewObject(app, session, object));
  if (handle < kFirstSessionObjectHandle) {
    keys_.Put(TokenOf(app, session), handle, MakeUsableKey(object, std::move(pkey)), version);
  }
  return handle;
}

absl::Status Hsm::GenerateKey(Application& app, const v1::GenerateKeyRequest& request, v1::ObjectReply* reply) {
  HSM_ASSIGN_OR_RETURN(Session session, SessionCopy(app, request.session()));
  const uint64_t mechanism = request.mechanism().type();
  HSM_RETURN_IF_ERROR(RequireMechanism(mechanism, CKF_GENERATE));
  HSM_ASSIGN_OR_RETURN(CK_KEY_TYPE key_type, SecretKeyTypeOf(mechanism));
  HSM_ASSIGN_OR_RETURN(CK_ULONG length, ValueLength(request.template_(), key_type));
  HSM_ASSIGN_OR_RETURN(std::string value, crypto::GenerateSecretKey(key_type, length));
  AttributeSet implied = {{CKA_CLASS, MakeUlong(CKA_CLASS, CKO_SECRET_KEY)},
                          {CKA_KEY_TYPE, MakeUlong(CKA_KEY_TYPE, key_type)},
                          {CKA_VALUE, MakeBytes(CKA_VALUE, std::move(value))},
                          {CKA_KEY_GEN_MECHANISM, MakeUlong(CKA_KEY_GEN_MECHANISM, mechanism)}};
  HSM_ASSIGN_OR_RETURN(AttributeSet object, NewObject(request.template_(), Origin::kGenerate,
                                                      IsSecurityOfficer(app, session.slot_id), implied));
  HSM_ASSIGN_OR_RETURN(uint64_t handle, StoreNewKey(app, session, object, nullptr));
  reply->set_object(handle);
  return absl::OkStatus();
}

absl::Status Hsm::GenerateKeyPair(Application& app, const v1::GenerateKeyPairRequest& request,
                                  v1::GenerateKeyPairReply* reply) {
  HSM_ASSIGN_OR_RETURN(Session session, SessionCopy(app, request.session()));
  const uint64_t mechanism = request.mechanism().type();
  HSM_RETURN_IF_ERROR(RequireMechanism(mechanism, CKF_GENERATE_KEY_PAIR));
  crypto::GeneratedKeyPair pair;
  CK_KEY_TYPE key_type;
  if (mechanism == CKM_RSA_PKCS_KEY_PAIR_GEN) {
    key_type = CKK_RSA;
    const hsm::v1::Attribute* bits = FindInTemplate(request.public_template(), CKA_MODULUS_BITS);
    if (bits == nullptr) return RvError(CKR_TEMPLATE_INCOMPLETE, "CKA_MODULUS_BITS is required");
    if (!bits->has_ulong()) return RvError(CKR_ATTRIBUTE_VALUE_INVALID);
    const hsm::v1::Attribute* exponent = FindInTemplate(request.public_template(), CKA_PUBLIC_EXPONENT);
    LongCall();  // tens of ms to seconds, finding primes
    HSM_ASSIGN_OR_RETURN(pair, crypto::GenerateRsaKeyPair(bits->ulong(), exponent ? exponent->bytes() : ""));
    if (exponent != nullptr) pair.public_attributes[CKA_PUBLIC_EXPONENT] = exponent->bytes();
  } else {
    key_type = mechanism == CKM_EC_KEY_PAIR_GEN ? CKK_EC : CKK_EC_EDWARDS;
    const hsm::v1::Attribute* params = FindInTemplate(request.public_template(), CKA_EC_PARAMS);
    if (params == nullptr) return RvError(CKR_TEMPLATE_INCOMPLETE, "CKA_EC_PARAMS is required");
    HSM_ASSIGN_OR_RETURN(pair, key_type == CKK_EC ? crypto::GenerateEcKeyPair(params->bytes())
                                                  : crypto::GenerateEdwardsKeyPair(params->bytes()));
  }
  auto implied = [&](uint64_t object_class, const crypto::AttributeBytes& material) {
    AttributeSet set = {{CKA_CLASS, MakeUlong(CKA_CLASS, object_class)},
                        {CKA_KEY_TYPE, MakeUlong(CKA_KEY_TYPE, key_type)},
                        {CKA_KEY_GEN_MECHANISM, MakeUlong(CKA_KEY_GEN_MECHANISM, mechanism)}};
    AddBytes(set, material);
    return set;
  };
  const bool security_officer = IsSecurityOfficer(app, session.slot_id);
  HSM_ASSIGN_OR_RETURN(AttributeSet public_key,
                       NewObject(request.public_template(), Origin::kGenerate, security_officer,
                                 implied(CKO_PUBLIC_KEY, pair.public_attributes)));
  HSM_ASSIGN_OR_RETURN(AttributeSet private_key,
                       NewObject(request.private_template(), Origin::kGenerate, security_officer,
                                 implied(CKO_PRIVATE_KEY, pair.private_attributes)));
  HSM_ASSIGN_OR_RETURN(uint64_t public_handle, StoreNewKey(app, session, public_key, pair.key));
  absl::StatusOr<uint64_t> private_handle = StoreNewKey(app, session, private_key, pair.key);
  if (!private_handle.ok()) {
    // Leave no half pair behind.
    v1::ObjectRequest destroy;
    destroy.set_session(session.id);
    destroy.set_object(public_handle);
    v1::StatusReply ignored;
    DestroyObject(app, destroy, &ignored).IgnoreError();
    return private_handle.status();
  }
  reply->set_public_key(public_handle);
  reply->set_private_key(*private_handle);
  return absl::OkStatus();
}

absl::Status Hsm::WrapKey(Application& app, const v1::WrapKeyRequest& request, v1::DataReply* reply) {
  HSM_ASSIGN_OR_RETURN(Session session, SessionCopy(app, request.session()));
  const uint64_t mechanism = request.mechanism().type();
  HSM_RETURN_IF_ERROR(RequireMechanism(mechanism, CKF_WRAP));
  absl::StatusOr<std::shared_ptr<const UsableKey>> wrapping = KeyFor(app, session, request.wrapping_key());
  if (!wrapping.ok()) {
    return CarriesRv(wrapping.status(), CKR_KEY_HANDLE_INVALID) ? RvError(CKR_WRAPPING_KEY_HANDLE_INVALID)
                                                                : wrapping.status();
  }
  if (!BoolOf((*wrapping)->attributes, CKA_WRAP, false)) return RvError(CKR_KEY_FUNCTION_NOT_PERMITTED);
  if (!AllowsMechanism((*wrapping)->attributes, mechanism)) return RvError(CKR_MECHANISM_INVALID);
  absl::Status type_ok = crypto::CheckKeyTypeForMechanism(mechanism, UlongOf((*wrapping)->attributes, CKA_KEY_TYPE, 0));
  if (!type_ok.ok()) return RvError(CKR_WRAPPING_KEY_TYPE_INCONSISTENT);
  HSM_ASSIGN_OR_RETURN(std::shared_ptr<const UsableKey> key, KeyFor(app, session, request.key()));
  if (!BoolOf(key->attributes, CKA_EXTRACTABLE, false)) return RvError(CKR_KEY_UNEXTRACTABLE);
  if (BoolOf(key->attributes, CKA_WRAP_WITH_TRUSTED, false) && !BoolOf((*wrapping)->attributes, CKA_TRUSTED, false)) {
    return RvError(CKR_KEY_NOT_WRAPPABLE, "CKA_WRAP_WITH_TRUSTED needs a trusted wrapping key");
  }
  HSM_RETURN_IF_ERROR(CheckWrapTemplate((*wrapping)->attributes, key->attributes));
  std::string key_bytes;
  const uint64_t object_class = UlongOf(key->attributes, CKA_CLASS, 0);
  if (object_class == CKO_SECRET_KEY) {
    key_bytes = *BytesOf(key->attributes, CKA_VALUE);
  } else if (object_class == CKO_PRIVATE_KEY) {
    HSM_ASSIGN_OR_RETURN(key_bytes, crypto::PrivateKeyToPkcs8(key->pkey));  // PKCS #8
  } else {
    return RvError(CKR_KEY_NOT_WRAPPABLE);
  }
  const UsableKey& wrapper = **wrapping;
  const std::string wrapper_secret =
      UlongOf(wrapper.attributes, CKA_CLASS, 0) == CKO_SECRET_KEY ? *BytesOf(wrapper.attributes, CKA_VALUE) : "";
  HSM_ASSIGN_OR_RETURN(std::string wrapped, crypto::WrapKey(ToMechanismParams(request.mechanism()), wrapper.pkey,
                                                            wrapper_secret, key_bytes));
  reply->set_length(wrapped.size());
  if (request.output().length_only()) return absl::OkStatus();
  if (request.output().buffer_len() < wrapped.size()) return RvError(CKR_BUFFER_TOO_SMALL);
  reply->set_data(std::move(wrapped));
  return absl::OkStatus();
}

absl::Status Hsm::UnwrapKey(Application& app, const v1::UnwrapKeyRequest& request, v1::ObjectReply* reply) {
  HSM_ASSIGN_OR_RETURN(Session session, SessionCopy(app, request.session()));
  const uint64_t mechanism = request.mechanism().type();
  HSM_RETURN_IF_ERROR(RequireMechanism(mechanism, CKF_UNWRAP));
  absl::StatusOr<std::shared_ptr<const UsableKey>> unwrapping = KeyFor(app, session, request.unwrapping_key());
  if (!unwrapping.ok()) {
    return CarriesRv(unwrapping.status(), CKR_KEY_HANDLE_INVALID) ? RvError(CKR_UNWRAPPING_KEY_HANDLE_INVALID)
                                                                  : unwrapping.status();
  }
  const UsableKey& unwrapper = **unwrapping;
  if (!BoolOf(unwrapper.attributes, CKA_UNWRAP, false)) return RvError(CKR_KEY_FUNCTION_NOT_PERMITTED);
  if (!AllowsMechanism(unwrapper.attributes, mechanism)) return RvError(CKR_MECHANISM_INVALID);
  if (!crypto::CheckKeyTypeForMechanism(mechanism, UlongOf(unwrapper.attributes, CKA_KEY_TYPE, 0)).ok()) {
    return RvError(CKR_UNWRAPPING_KEY_TYPE_INCONSISTENT);
  }
  // The unwrapping key's CKA_UNWRAP_TEMPLATE counts as part of the caller's.
  HSM_ASSIGN_OR_RETURN(const Template wanted, WithUnwrapTemplate(unwrapper.attributes, request.template_()));
  const hsm::v1::Attribute* object_class = FindInTemplate(wanted, CKA_CLASS);
  if (object_class == nullptr) return RvError(CKR_TEMPLATE_INCOMPLETE, "CKA_CLASS is required");
  const hsm::v1::Attribute* length = FindInTemplate(wanted, CKA_VALUE_LEN);
  const std::string unwrapper_secret =
      UlongOf(unwrapper.attributes, CKA_CLASS, 0) == CKO_SECRET_KEY ? *BytesOf(unwrapper.attributes, CKA_VALUE) : "";
  HSM_ASSIGN_OR_RETURN(std::string plain,
                       crypto::UnwrapKey(ToMechanismParams(request.mechanism()), unwrapper.pkey, unwrapper_secret,
                                         request.wrapped_key(), length && length->has_ulong() ? length->ulong() : 0));
  AttributeSet implied;
  crypto::EvpPkeyPtr pkey;
  if (object_class->ulong() == CKO_PRIVATE_KEY) {
    // PrivateKeyFromPkcs8 checks the key as an imported one is (stored keys
    // are not checked again when they are loaded); an RSA key's checks take a
    // while, and the key's type is known only once it is parsed.
    LongCall();
    HSM_ASSIGN_OR_RETURN(pkey, crypto::PrivateKeyFromPkcs8(plain));
    CK_KEY_TYPE key_type = 0;
    HSM_ASSIGN_OR_RETURN(crypto::AttributeBytes material, crypto::PrivateAttributesFromKey(pkey, &key_type));
    AddBytes(implied, material);
    implied[CKA_KEY_TYPE] = MakeUlong(CKA_KEY_TYPE, key_type);
  } else {
    implied[CKA_VALUE] = MakeBytes(CKA_VALUE, std::move(plain));
  }
  HSM_ASSIGN_OR_RETURN(AttributeSet object, NewObject(wanted, Origin::kUnwrap,
                                                      IsSecurityOfficer(app, session.slot_id), implied));
  HSM_ASSIGN_OR_RETURN(uint64_t handle, StoreNewKey(app, session, object, pkey));
  reply->set_object(handle);
  return absl::OkStatus();
}

absl::Status Hsm::DeriveKey(Application& app, const v1::DeriveKeyRequest& request, v1::ObjectReply* reply) {
  HSM_ASSIGN_OR_RETURN(Session session, SessionCopy(app, request.session()));
  const uint64_t mechanism = request.mechanism().type();
  HSM_RETURN_IF_ERROR(RequireMechanism(mechanism, CKF_DERIVE));
  HSM_ASSIGN_OR_RETURN(std::shared_ptr<const UsableKey> base, KeyFor(app, session, request.base_key()));
  if (!BoolOf(base->attributes, CKA_DERIVE, false)) return RvError(CKR_KEY_FUNCTION_NOT_PERMITTED);
  if (!AllowsMechanism(base->attributes, mechanism)) return RvError(CKR_MECHANISM_INVALID);
  HSM_RETURN_IF_ERROR(crypto::CheckKeyTypeForMechanism(mechanism, UlongOf(base->attributes, CKA_KEY_TYPE, 0)));
  const hsm::v1::Attribute* key_type = FindInTemplate(request.template_(), CKA_KEY_TYPE);
  if (key_type == nullptr) return RvError(CKR_TEMPLATE_INCOMPLETE, "CKA_KEY_TYPE is required");
  const hsm::v1::Attribute* length = FindInTemplate(request.template_(), CKA_VALUE_LEN);
  CK_ULONG wanted = length != nullptr && length->has_ulong() ? length->ulong() : 0;
  if (wanted == 0 && key_type->ulong() == CKK_DES3) wanted = 24;
  HSM_ASSIGN_OR_RETURN(std::string value,
                       crypto::DeriveEcdh(ToMechanismParams(request.mechanism()), base->pkey, wanted));
  // A key derived from a sensitive, unextractable key keeps those guarantees.
  const bool generated_like = BoolOf(base->attributes, CKA_ALWAYS_SENSITIVE, false);
  AttributeSet implied = {{CKA_CLASS, MakeUlong(CKA_CLASS, CKO_SECRET_KEY)},
                          {CKA_VALUE, MakeBytes(CKA_VALUE, std::move(value))}};
  HSM_ASSIGN_OR_RETURN(AttributeSet object, NewObject(request.template_(), Origin::kDerive,
                                                      IsSecurityOfficer(app, session.slot_id), implied));
  object[CKA_ALWAYS_SENSITIVE] =
      MakeBool(CKA_ALWAYS_SENSITIVE, generated_like && BoolOf(object, CKA_SENSITIVE, false));
  object[CKA_NEVER_EXTRACTABLE] =
      MakeBool(CKA_NEVER_EXTRACTABLE, BoolOf(base->attributes, CKA_NEVER_EXTRACTABLE, false) &&
                                          !BoolOf(object, CKA_EXTRACTABLE, true));
  HSM_ASSIGN_OR_RETURN(uint64_t handle, StoreNewKey(app, session, object, nullptr));
  reply->set_object(handle);
  return absl::OkStatus();
}

}  // namespace hsm::server
