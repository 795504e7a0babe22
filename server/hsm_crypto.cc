// Encryption, decryption, digests, signatures and MACs, and verification
// (PKCS #11 2.40 sections 5.8 to 5.13), on keys parsed once and cached.
//
// Operation rules: an Init while one of its kind is active gives
// CKR_OPERATION_ACTIVE; a call without one gives CKR_OPERATION_NOT_INITIALIZED;
// a length query or CKR_BUFFER_TOO_SMALL keeps the operation (and any output
// already computed, which the retry receives); any other error ends it, and
// so does the single-part call or Final that succeeds.
//
// A data call may carry its operation's Init (deferred by the client library):
// that Init runs first, exactly as its own RPC would, and the call itself only
// if the Init succeeded. A successful Init tells the client what it needs to
// decide such deferrals (KeyFacts).
#include <openssl/evp.h>

#include <functional>
#include <type_traits>

#include "server/attribute_rules.h"
#include "server/audit_note.h"
#include "server/blocking.h"
#include "server/crypto/key_material.h"
#include "server/crypto/mechanism_table.h"
#include "server/hsm.h"
#include "server/mechanism_params.h"
#include "server/rv.h"

namespace hsm::server {
namespace {

std::shared_ptr<SessionOperations> OperationsOf(const Session& session) { return session.operations; }

// Puts `pending` (computing it first with `produce` unless an earlier call
// already did) in the reply per the buffer rules. `delivered` tells whether
// the output went out; when not, the operation stays.
absl::Status Produce(std::optional<std::string>& pending, const v1::OutputSpec& output, size_t estimate,
                     const std::function<absl::StatusOr<std::string>()>& produce, v1::DataReply* reply,
                     bool* delivered) {
  *delivered = false;
  if (!pending.has_value()) {
    if (output.length_only()) {
      reply->set_length(estimate);
      return absl::OkStatus();
    }
    HSM_ASSIGN_OR_RETURN(pending, produce());
  }
  reply->set_length(pending->size());
  if (output.length_only()) return absl::OkStatus();
  if (output.buffer_len() < pending->size()) return RvError(CKR_BUFFER_TOO_SMALL);
  reply->set_data(std::move(*pending));
  pending.reset();
  *delivered = true;
  return absl::OkStatus();
}

// Whether a failed call leaves its operation alive (buffer too small).
bool KeepsOperation(const absl::Status& status) { return CarriesRv(status, CKR_BUFFER_TOO_SMALL); }

// The key may do `usage` (CKA_SIGN ...) with `mechanism`, per its attributes
// and the mechanism table. `usage_or` is a second attribute that also allows it.
absl::Status CheckKeyUse(const UsableKey& key, uint64_t mechanism, CK_FLAGS function, uint64_t usage,
                         uint64_t usage_or = 0) {
  const crypto::MechanismInfo* info = crypto::FindMechanism(mechanism);
  if (info == nullptr || (info->flags & function) == 0) return RvError(CKR_MECHANISM_INVALID);
  if (!BoolOf(key.attributes, usage, false) && !(usage_or != 0 && BoolOf(key.attributes, usage_or, false))) {
    return RvError(CKR_KEY_FUNCTION_NOT_PERMITTED);
  }
  if (!AllowsMechanism(key.attributes, mechanism)) return RvError(CKR_MECHANISM_INVALID);
  return crypto::CheckKeyTypeForMechanism(mechanism, UlongOf(key.attributes, CKA_KEY_TYPE, 0));
}

std::string SecretOf(const UsableKey& key) {
  const std::string* value = BytesOf(key.attributes, CKA_VALUE);
  return UlongOf(key.attributes, CKA_CLASS, 0) == CKO_SECRET_KEY && value != nullptr ? *value : std::string();
}

}  // namespace

absl::StatusOr<std::shared_ptr<const UsableKey>> Hsm::KeyFor(Application& app, const Session& session,
                                                             uint64_t handle) {
  const storage::TokenRef token = TokenOf(app, session);
  const bool on_token = handle < kFirstSessionObjectHandle;
  if (on_token) {
    if (std::shared_ptr<const UsableKey> cached = keys_.Get(token, handle)) {
      if (BoolOf(cached->attributes, CKA_PRIVATE, false)) {
        std::lock_guard<std::mutex> lock(app.mutex());
        if (app.login(session.slot_id) != LoginState::kUser) return RvError(CKR_KEY_HANDLE_INVALID);
      }
      NoteObject(handle, cached->attributes);
      return cached;
    }
  }
  const uint64_t version = keys_.version();
  absl::StatusOr<ObjectView> view = LoadObject(app, session, handle);
  if (!view.ok()) {
    return CarriesRv(view.status(), CKR_OBJECT_HANDLE_INVALID) ? RvError(CKR_KEY_HANDLE_INVALID) : view.status();
  }
  AttributeSet attributes = std::move(view->attributes);
  crypto::EvpPkeyPtr pkey;
  const uint64_t object_class = UlongOf(attributes, CKA_CLASS, 0);
  const CK_KEY_TYPE key_type = UlongOf(attributes, CKA_KEY_TYPE, 0);
  if (object_class == CKO_PRIVATE_KEY || object_class == CKO_PUBLIC_KEY) {
    crypto::AttributeBytes bytes;
    for (const auto& [type, value] : attributes) {
      if (value.value_case() == hsm::v1::Attribute::kBytes) bytes[type] = value.bytes();
    }
    // Every stored private key was checked when it was made (imported,
    // generated or unwrapped) and sealed since: building it again skips the
    // checks. It still takes a while (RSA-4096: a millisecond): other calls
    // need not wait behind it (server/blocking.h).
    if (object_class == CKO_PRIVATE_KEY) AboutToBlock();
    HSM_ASSIGN_OR_RETURN(pkey, object_class == CKO_PRIVATE_KEY
                                   ? crypto::PrivateKeyFromAttributes(key_type, bytes,
                                                                      crypto::KeyCheck::kAlreadyChecked)
                                   : crypto::PublicKeyFromAttributes(key_type, bytes));
  } else if (object_class != CKO_SECRET_KEY) {
    return RvError(CKR_KEY_HANDLE_INVALID, "not a key");
  }
  std::shared_ptr<UsableKey> key = MakeUsableKey(std::move(attributes), std::move(pkey));
  if (on_token) keys_.Put(token, handle, key, version);
  return std::shared_ptr<const UsableKey>(std::move(key));
}

// ---------------------------------------------------------------- init

namespace {

template <typename Operation>
absl::Status StartOperation(Active<Operation>& active, absl::StatusOr<std::unique_ptr<Operation>> made,
                            bool needs_context_login) {
  if (!made.ok()) return made.status();
  active.operation = *std::move(made);
  active.pending.reset();
  active.held.Clear();
  active.needs_context_login = needs_context_login;
  return absl::OkStatus();
}

// Tells the client, once an Init on `handle` succeeded, the facts its
// deferral of later Inits rests on (proto KeyFacts). Their presence also
// tells it that this hsmd runs the Inits data calls carry.
void TellKeyFacts(uint64_t handle, const UsableKey& key, v1::StatusReply* reply) {
  v1::KeyFacts* facts = reply->mutable_key_facts();
  facts->set_token_object(handle < kFirstSessionObjectHandle);
  auto always = key.attributes.find(CKA_ALWAYS_AUTHENTICATE);
  if (always != key.attributes.end() && always->second.value_case() == hsm::v1::Attribute::kBoolean) {
    facts->set_always_authenticate(always->second.boolean());
  }
}

// Starts the operation and, if it started, tells the key facts.
template <typename Operation>
absl::Status StartKeyOperation(Active<Operation>& active, absl::StatusOr<std::unique_ptr<Operation>> made,
                               bool needs_context_login, uint64_t handle, const UsableKey& key,
                               v1::StatusReply* reply) {
  HSM_RETURN_IF_ERROR(StartOperation(active, std::move(made), needs_context_login));
  TellKeyFacts(handle, key, reply);
  return absl::OkStatus();
}

}  // namespace

absl::Status Hsm::EncryptInit(Application& app, const v1::OperationInitRequest& request, v1::StatusReply* reply) {
  HSM_ASSIGN_OR_RETURN(Session session, SessionCopy(app, request.session()));
  auto ops = OperationsOf(session);
  std::lock_guard<std::mutex> lock(ops->mutex);
  if (ops->encrypt) return RvError(CKR_OPERATION_ACTIVE);
  HSM_ASSIGN_OR_RETURN(auto key, KeyFor(app, session, request.key()));
  HSM_RETURN_IF_ERROR(CheckKeyUse(*key, request.mechanism().type(), CKF_ENCRYPT, CKA_ENCRYPT));
  return StartKeyOperation(
      ops->encrypt, crypto::NewEncryptOperation(ToMechanismParams(request.mechanism()), key->pkey, SecretOf(*key)),
      false, request.key(), *key, reply);
}

absl::Status Hsm::DecryptInit(Application& app, const v1::OperationInitRequest& request, v1::StatusReply* reply) {
  HSM_ASSIGN_OR_RETURN(Session session, SessionCopy(app, request.session()));
  auto ops = OperationsOf(session);
  std::lock_guard<std::mutex> lock(ops->mutex);
  if (ops->decrypt) return RvError(CKR_OPERATION_ACTIVE);
  HSM_ASSIGN_OR_RETURN(auto key, KeyFor(app, session, request.key()));
  HSM_RETURN_IF_ERROR(CheckKeyUse(*key, request.mechanism().type(), CKF_DECRYPT, CKA_DECRYPT));
  HSM_RETURN_IF_ERROR(StartKeyOperation(
      ops->decrypt, crypto::NewDecryptOperation(ToMechanismParams(request.mechanism()), key->pkey, SecretOf(*key)),
      BoolOf(key->attributes, CKA_ALWAYS_AUTHENTICATE, false), request.key(), *key, reply));
  ops->decrypt.slow = key->slow_private_key;
  return absl::OkStatus();
}

absl::Status Hsm::DigestInit(Application& app, const v1::OperationInitRequest& request, v1::StatusReply* reply) {
  HSM_ASSIGN_OR_RETURN(Session session, SessionCopy(app, request.session()));
  auto ops = OperationsOf(session);
  std::lock_guard<std::mutex> lock(ops->mutex);
  if (ops->digest) return RvError(CKR_OPERATION_ACTIVE);
  const crypto::MechanismInfo* info = crypto::FindMechanism(request.mechanism().type());
  if (info == nullptr || (info->flags & CKF_DIGEST) == 0) return RvError(CKR_MECHANISM_INVALID);
  HSM_RETURN_IF_ERROR(
      StartOperation(ops->digest, crypto::NewDigestOperation(ToMechanismParams(request.mechanism())), false));
  // No key, so no facts; their presence tells the client that this hsmd runs
  // the Inits data calls carry.
  reply->mutable_key_facts();
  return absl::OkStatus();
}

absl::Status Hsm::SignInit(Application& app, const v1::OperationInitRequest& request, v1::StatusReply* reply) {
  HSM_ASSIGN_OR_RETURN(Session session, SessionCopy(app, request.session()));
  auto ops = OperationsOf(session);
  std::lock_guard<std::mutex> lock(ops->mutex);
  if (ops->sign) return RvError(CKR_OPERATION_ACTIVE);
  HSM_ASSIGN_OR_RETURN(auto key, KeyFor(app, session, request.key()));
  HSM_RETURN_IF_ERROR(CheckKeyUse(*key, request.mechanism().type(), CKF_SIGN, CKA_SIGN));
  HSM_RETURN_IF_ERROR(StartKeyOperation(ops->sign,
                                        crypto::NewSignOperation(ToMechanismParams(request.mechanism()),
                                                                 key->pkey, SecretOf(*key), key->contexts),
                                        BoolOf(key->attributes, CKA_ALWAYS_AUTHENTICATE, false),
                                        request.key(), *key, reply));
  ops->sign.slow = key->slow_private_key;
  return absl::OkStatus();
}

absl::Status Hsm::VerifyInit(Application& app, const v1::OperationInitRequest& request, v1::StatusReply* reply) {
  HSM_ASSIGN_OR_RETURN(Session session, SessionCopy(app, request.session()));
  auto ops = OperationsOf(session);
  std::lock_guard<std::mutex> lock(ops->mutex);
  if (ops->verify) return RvError(CKR_OPERATION_ACTIVE);
  HSM_ASSIGN_OR_RETURN(auto key, KeyFor(app, session, request.key()));
  HSM_RETURN_IF_ERROR(CheckKeyUse(*key, request.mechanism().type(), CKF_VERIFY, CKA_VERIFY));
  return StartKeyOperation(ops->verify,
                           crypto::NewVerifyOperation(ToMechanismParams(request.mechanism()), key->pkey,
                                                      SecretOf(*key), key->contexts),
                           false, request.key(), *key, reply);
}

absl::Status Hsm::SignRecoverInit(Application& app, const v1::OperationInitRequest& request,
                                  v1::StatusReply* reply) {
  HSM_ASSIGN_OR_RETURN(Session session, SessionCopy(app, request.session()));
  auto ops = OperationsOf(session);
  std::lock_guard<std::mutex> lock(ops->mutex);
  if (ops->sign_recover) return RvError(CKR_OPERATION_ACTIVE);
  HSM_ASSIGN_OR_RETURN(auto key, KeyFor(app, session, request.key()));
  HSM_RETURN_IF_ERROR(CheckKeyUse(*key, request.mechanism().type(), CKF_SIGN_RECOVER, CKA_SIGN_RECOVER));
  ops->sign_recover.slow = key->slow_private_key;
  ops->sign_recover.operation = std::make_unique<RecoverOperation>(
      RecoverOperation{ToMechanismParams(request.mechanism()), key->pkey});
  ops->sign_recover.needs_context_login = BoolOf(key->attributes, CKA_ALWAYS_AUTHENTICATE, false);
  TellKeyFacts(request.key(), *key, reply);
  return absl::OkStatus();
}

absl::Status Hsm::VerifyRecoverInit(Application& app, const v1::OperationInitRequest& request,
                                    v1::StatusReply* reply) {
  HSM_ASSIGN_OR_RETURN(Session session, SessionCopy(app, request.session()));
  auto ops = OperationsOf(session);
  std::lock_guard<std::mutex> lock(ops->mutex);
  if (ops->verify_recover) return RvError(CKR_OPERATION_ACTIVE);
  HSM_ASSIGN_OR_RETURN(auto key, KeyFor(app, session, request.key()));
  // NSS verifies RSA signatures with C_VerifyRecover even on keys it made
  // with CKA_VERIFY_RECOVER false; a public-key operation reveals nothing, so
  // CKA_VERIFY allows it too.
  HSM_RETURN_IF_ERROR(
      CheckKeyUse(*key, request.mechanism().type(), CKF_VERIFY_RECOVER, CKA_VERIFY_RECOVER, CKA_VERIFY));
  ops->verify_recover.operation = std::make_unique<RecoverOperation>(
      RecoverOperation{ToMechanismParams(request.mechanism()), key->pkey});
  TellKeyFacts(request.key(), *key, reply);
  return absl::OkStatus();
}

// ---------------------------------------------------------------- calls

template <typename Request>
absl::Status Hsm::RunCarriedInit(Application& app, const Request& request, InitMethod init, const char* name) {
  if constexpr (std::is_same_v<Request, v1::DataRequest>) CloseCarriedSessions(app, request.close_first());
  if (!request.has_init()) return absl::OkStatus();
  v1::OperationInitRequest carried = request.init();
  carried.set_app(request.app());
  carried.set_session(request.session());
  v1::StatusReply ignored;  // the client learned the key facts at the Init it did not defer
  // ToRv logs an internal failure here, once; the error returned carries the
  // CK_RV only, so the adapter does not log it again.
  const CK_RV rv = ToRv((this->*init)(app, carried, &ignored));
  NoteDeferredInit(name, request.session(), carried.mechanism().type(), rv);
  return rv == CKR_OK ? absl::OkStatus() : RvError(rv);
}

namespace {

// What `active` keeps between calls: the input its operation buffers (AES-GCM
// decryption) and an output kept for a retry.
template <typename Operation>
uint64_t HeldBytes(const Active<Operation>& active) {
  uint64_t bytes = active.pending ? active.pending->size() : 0;
  if constexpr (std::is_same_v<Operation, crypto::CipherOperation>) {
    if (active) bytes += active.operation->BufferedBytes();
  }
  return bytes;
}

// Runs a call that returns output on `active`: single-part (`ends` true) or
// update/final, per the operation rules above. What the operation keeps
// afterwards must fit in `memory_limit` with what the application's other
// operations keep: otherwise it ends with CKR_DEVICE_MEMORY.
template <typename Operation>
absl::Status RunWithOutput(uint64_t memory_limit, Active<Operation>& active, const v1::OutputSpec& output,
                           size_t estimate, bool ends, const std::function<absl::StatusOr<std::string>()>& produce,
                           v1::DataReply* reply) {
  if (!active) return RvError(CKR_OPERATION_NOT_INITIALIZED);
  if (active.needs_context_login) {
    active.End();
    return RvError(CKR_USER_NOT_LOGGED_IN, "CKA_ALWAYS_AUTHENTICATE key without context-specific login");
  }
  if (active.slow) AboutToBlock();
  bool delivered = false;
  absl::Status status = Produce(active.pending, output, estimate, produce, reply, &delivered);
  if (status.ok() ? (delivered && ends) : !KeepsOperation(status)) active.End();
  if (active && !active.held.Resize(HeldBytes(active), memory_limit)) {
    active.End();
    reply->clear_length();
    reply->clear_data();
    return RvError(CKR_DEVICE_MEMORY, "the application's operations would keep more than --max_operation_bytes");
  }
  return status;
}

// Runs a call that returns no output (update, verify).
template <typename Operation>
absl::Status RunWithoutOutput(Active<Operation>& active, bool ends, const std::function<absl::Status()>& run) {
  if (!active) return RvError(CKR_OPERATION_NOT_INITIALIZED);
  absl::Status status = run();
  if (!status.ok() || ends) active.End();
  return status;
}

}  // namespace

// The start of every call below: the closes and the Init it carries, if any
// (`Init` names the Init RPC of its kind), then the session's operations,
// locked.
#define HSM_WITH_OPERATIONS(app, request, Init)                                       \
  HSM_RETURN_IF_ERROR(RunCarriedInit(app, request, &Hsm::Init, "C_" #Init));          \
  HSM_ASSIGN_OR_RETURN(Session session, SessionCopy(app, request.session()));         \
  auto ops = OperationsOf(session);                                                  \
  std::lock_guard<std::mutex> ops_lock(ops->mutex)

// DigestKey's request (ObjectRequest) carries no Init.
#define HSM_WITH_OPERATIONS_NO_INIT(app, request)                                     \
  HSM_ASSIGN_OR_RETURN(Session session, SessionCopy(app, request.session()));         \
  auto ops = OperationsOf(session);                                                  \
  std::lock_guard<std::mutex> ops_lock(ops->mutex)

absl::Status Hsm::Encrypt(Application& app, const v1::DataRequest& request, v1::DataReply* reply) {
  HSM_WITH_OPERATIONS(app, request, EncryptInit);
  auto& active = ops->encrypt;
  const size_t estimate = active ? active.operation->MaxOutputLength(request.data().size()) : 0;
  return RunWithOutput(options_.max_operation_bytes, active, request.output(), estimate, true,
                       [&] { return active.operation->Once(request.data()); }, reply);
}

absl::Status Hsm::EncryptUpdate(Application& app, const v1::DataRequest& request, v1::DataReply* reply) {
  HSM_WITH_OPERATIONS(app, request, EncryptInit);
  auto& active = ops->encrypt;
  const size_t estimate = active ? active.operation->MaxOutputLength(request.data().size()) : 0;
  return RunWithOutput(options_.max_operation_bytes, active, request.output(), estimate, false,
                       [&] { return active.operation->Update(request.data()); }, reply);
}

absl::Status Hsm::EncryptFinal(Application& app, const v1::OutputRequest& request, v1::DataReply* reply) {
  HSM_WITH_OPERATIONS(app, request, EncryptInit);
  auto& active = ops->encrypt;
  const size_t estimate = active ? active.operation->MaxOutputLength(0) : 0;
  return RunWithOutput(options_.max_operation_bytes, active, request.output(), estimate, true,
                       [&] { return active.operation->Final(); }, reply);
}

absl::Status Hsm::Decrypt(Application& app, const v1::DataRequest& request, v1::DataReply* reply) {
  HSM_WITH_OPERATIONS(app, request, DecryptInit);
  auto& active = ops->decrypt;
  const size_t estimate = active ? active.operation->MaxOutputLength(request.data().size()) : 0;
  return RunWithOutput(options_.max_operation_bytes, active, request.output(), estimate, true,
                       [&] { return active.operation->Once(request.data()); }, reply);
}

absl::Status Hsm::DecryptUpdate(Application& app, const v1::DataRequest& request, v1::DataReply* reply) {
  HSM_WITH_OPERATIONS(app, request, DecryptInit);
  auto& active = ops->decrypt;
  const size_t estimate = active ? active.operation->MaxOutputLength(request.data().size()) : 0;
  return RunWithOutput(options_.max_operation_bytes, active, request.output(), estimate, false,
                       [&] { return active.operation->Update(request.data()); }, reply);
}

absl::Status Hsm::DecryptFinal(Application& app, const v1::OutputRequest& request, v1::DataReply* reply) {
  HSM_WITH_OPERATIONS(app, request, DecryptInit);
  auto& active = ops->decrypt;
  const size_t estimate = active ? active.operation->MaxOutputLength(0) : 0;
  return RunWithOutput(options_.max_operation_bytes, active, request.output(), estimate, true,
                       [&] { return active.operation->Final(); }, reply);
}

absl::Status Hsm::Digest(Application& app, const v1::DataRequest& request, v1::DataReply* reply) {
  HSM_WITH_OPERATIONS(app, request, DigestInit);
  auto& active = ops->digest;
  const size_t estimate = active ? active.operation->DigestLength() : 0;
  return RunWithOutput(options_.max_operation_bytes, active, request.output(), estimate, true,
                       [&] { return active.operation->Once(request.data()); }, reply);
}

absl::Status Hsm::DigestUpdate(Application& app, const v1::DataRequest& request, v1::StatusReply*) {
  HSM_WITH_OPERATIONS(app, request, DigestInit);
  auto& active = ops->digest;
  return RunWithoutOutput(active, false, [&] { return active.operation->Update(request.data()); });
}

absl::Status Hsm::DigestKey(Application& app, const v1::ObjectRequest& request, v1::StatusReply*) {
  HSM_WITH_OPERATIONS_NO_INIT(app, request);
  auto& active = ops->digest;
  return RunWithoutOutput(active, false, [&]() -> absl::Status {
    HSM_ASSIGN_OR_RETURN(auto key, KeyFor(app, session, request.object()));
    const std::string secret = SecretOf(*key);
    if (secret.empty()) return RvError(CKR_KEY_INDIGESTIBLE);
    // Digesting a key reveals a function of it: only extractable keys.
    if (!BoolOf(key->attributes, CKA_EXTRACTABLE, false)) return RvError(CKR_KEY_INDIGESTIBLE);
    return active.operation->Update(secret);
  });
}

absl::Status Hsm::DigestFinal(Application& app, const v1::OutputRequest& request, v1::DataReply* reply) {
  HSM_WITH_OPERATIONS(app, request, DigestInit);
  auto& active = ops->digest;
  const size_t estimate = active ? active.operation->DigestLength() : 0;
  return RunWithOutput(options_.max_operation_bytes, active, request.output(), estimate, true,
                       [&] { return active.operation->Final(); }, reply);
}

absl::Status Hsm::Sign(Application& app, const v1::DataRequest& request, v1::DataReply* reply) {
  HSM_WITH_OPERATIONS(app, request, SignInit);
  auto& active = ops->sign;
  const size_t estimate = active ? active.operation->SignatureLength() : 0;
  return RunWithOutput(options_.max_operation_bytes, active, request.output(), estimate, true,
                       [&] { return active.operation->SignOnce(request.data()); }, reply);
}

absl::Status Hsm::SignUpdate(Application& app, const v1::DataRequest& request, v1::StatusReply*) {
  HSM_WITH_OPERATIONS(app, request, SignInit);
  auto& active = ops->sign;
  return RunWithoutOutput(active, false, [&] { return active.operation->Update(request.data()); });
}

absl::Status Hsm::SignFinal(Application& app, const v1::OutputRequest& request, v1::DataReply* reply) {
  HSM_WITH_OPERATIONS(app, request, SignInit);
  auto& active = ops->sign;
  const size_t estimate = active ? active.operation->SignatureLength() : 0;
  return RunWithOutput(options_.max_operation_bytes, active, request.output(), estimate, true,
                       [&] { return active.operation->Final(); }, reply);
}

absl::Status Hsm::SignRecover(Application& app, const v1::DataRequest& request, v1::DataReply* reply) {
  HSM_WITH_OPERATIONS(app, request, SignRecoverInit);
  auto& active = ops->sign_recover;
  const size_t estimate = active ? static_cast<size_t>(EVP_PKEY_get_size(active.operation->key.get())) : 0;
  return RunWithOutput(options_.max_operation_bytes, active, request.output(), estimate, true, [&] {
    return crypto::SignRecover(active.operation->params, active.operation->key, request.data());
  }, reply);
}

absl::Status Hsm::Verify(Application& app, const v1::VerifyRequest& request, v1::StatusReply*) {
  HSM_WITH_OPERATIONS(app, request, VerifyInit);
  auto& active = ops->verify;
  return RunWithoutOutput(active, true,
                          [&] { return active.operation->VerifyOnce(request.data(), request.signature()); });
}

absl::Status Hsm::VerifyUpdate(Application& app, const v1::DataRequest& request, v1::StatusReply*) {
  HSM_WITH_OPERATIONS(app, request, VerifyInit);
  auto& active = ops->verify;
  return RunWithoutOutput(active, false, [&] { return active.operation->Update(request.data()); });
}

absl::Status Hsm::VerifyFinal(Application& app, const v1::VerifyRequest& request, v1::StatusReply*) {
  HSM_WITH_OPERATIONS(app, request, VerifyInit);
  auto& active = ops->verify;
  return RunWithoutOutput(active, true, [&] { return active.operation->Final(request.signature()); });
}

absl::Status Hsm::VerifyRecover(Application& app, const v1::DataRequest& request, v1::DataReply* reply) {
  HSM_WITH_OPERATIONS(app, request, VerifyRecoverInit);
  auto& active = ops->verify_recover;
  const size_t estimate = active ? static_cast<size_t>(EVP_PKEY_get_size(active.operation->key.get())) : 0;
  return RunWithOutput(options_.max_operation_bytes, active, request.output(), estimate, true, [&] {
    return crypto::VerifyRecover(active.operation->params, active.operation->key, request.data());
  }, reply);
}

#undef HSM_WITH_OPERATIONS
#undef HSM_WITH_OPERATIONS_NO_INIT

}  // namespace hsm::server
