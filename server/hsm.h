// The PKCS #11 semantics of hsmd, one method per RPC of proto/hsm/v1.
// Methods fill the reply and return the PKCS #11 result as an absl::Status
// carrying a CK_RV (server/rv.h); the gRPC adapter (pkcs11_service) does the
// rest. Methods are grouped by PKCS #11 function group, one file each:
// hsm_general.cc, hsm_slots.cc, hsm_sessions.cc, hsm_objects.cc, hsm_crypto.cc,
// hsm_keys.cc, hsm_random.cc.
#ifndef HSM_SERVER_HSM_H_
#define HSM_SERVER_HSM_H_

#include <cstdint>
#include <string>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "proto/hsm/v1/pkcs11.pb.h"
#include "server/application.h"
#include "server/application_registry.h"
#include "server/key_cache.h"
#include "storage/object_store.h"
#include "storage/token_store.h"

namespace hsm::server {

namespace v1 = ::hsm::v1;

struct HsmOptions {
  // PBKDF2 rounds for new PIN verifiers.
  uint64_t pin_kdf_iterations = 100000;
  uint64_t min_pin_len = 4;
  uint64_t max_pin_len = 255;
  // Failed logins in a row that lock a PIN (until the SO's C_InitPIN, for the
  // user PIN, or an administrator's unlock).
  uint64_t max_pin_failures = 10;
  // The memory one application's session objects may hold together
  // (Application::AddSessionObject); beyond it, CKR_DEVICE_MEMORY.
  uint64_t max_session_object_bytes = uint64_t{64} << 20;
  // The memory one application's operations may keep between calls together
  // (AES-GCM ciphertext until C_DecryptFinal, outputs kept for a retry with a
  // larger buffer: session_operations.h; the matches of open searches:
  // FindOperation); beyond it, CKR_DEVICE_MEMORY.
  uint64_t max_operation_bytes = uint64_t{64} << 20;
  // Sessions one application may have open at once, on all its slots
  // (CK_TOKEN_INFO.ulMaxSessionCount); beyond it, CKR_SESSION_COUNT. Each
  // session costs hsmd memory, so even a tenant without a session quota
  // cannot open sessions until hsmd runs out. 0: no limit.
  uint64_t max_sessions_per_application = 16384;
  // Sessions all of one tenant's applications may have open at once when the
  // tenant has no session quota of its own (hsmctl tenant quota); beyond it,
  // CKR_SESSION_COUNT. Applications come and go without limit otherwise, so
  // this is what bounds the memory a tenant's sessions hold. 0: no limit.
  uint64_t max_sessions_per_tenant = 65536;
  // Applications (client C_Initialize calls) a tenant may have at once when it
  // has no application quota of its own; beyond it, CKR_DEVICE_MEMORY. Each
  // holds a little memory until C_Finalize or --app_timeout. 0: no limit.
  uint64_t max_applications_per_tenant = 4096;
};

uint64_t NewInstanceId();

// Whether a PIN of `length` bytes is within the lengths C_GetTokenInfo reports.
inline bool PinLengthInRange(const HsmOptions& options, size_t length) {
  return length >= options.min_pin_len && length <= options.max_pin_len;
}

class Hsm {
 public:
  Hsm(storage::TokenStore* tokens, storage::ObjectStore* objects, ApplicationRegistry* apps, HsmOptions options)
      : tokens_(tokens), objects_(objects), apps_(apps), options_(options), instance_id_(NewInstanceId()) {}

  const HsmOptions& options() const { return options_; }
  // Drops cached keys of a token an administrator changed.
  void ForgetKeys(storage::TokenRef token) { keys_.ForgetToken(token); }

  // General purpose (no application yet for Initialize).
  absl::Status Initialize(uint64_t tenant_id, const std::string& peer,
                          const v1::InitializeRequest& request, v1::InitializeReply* reply);
  absl::Status Finalize(Application& app, const v1::AppRequest& request, v1::StatusReply* reply);
  absl::Status Heartbeat(Application& app, const v1::AppRequest& request, v1::StatusReply* reply);

  // Slot and token management (hsm_slots.cc).
  absl::Status GetSlotList(Application& app, const v1::GetSlotListRequest& request,
                           v1::GetSlotListReply* reply);
  absl::Status GetSlotInfo(Application& app, const v1::SlotRequest& request,
                           v1::GetSlotInfoReply* reply);
  absl::Status GetTokenInfo(Application& app, const v1::SlotRequest& request,
                            v1::GetTokenInfoReply* reply);
  absl::Status GetMechanismList(Application& app, const v1::SlotRequest& request,
                                v1::GetMechanismListReply* reply);
  absl::Status GetMechanismInfo(Application& app, const v1::GetMechanismInfoRequest& request,
                                v1::GetMechanismInfoReply* reply);
  absl::Status InitToken(Application& app, const v1::InitTokenRequest& request,
                         v1::StatusReply* reply);
  absl::Status InitPIN(Application& app, const v1::InitPinRequest& request, v1::StatusReply* reply);
  absl::Status SetPIN(Application& app, const v1::SetPinRequest& request, v1::StatusReply* reply);

  // Session management (hsm_sessions.cc).
  absl::Status OpenSession(Application& app, const v1::OpenSessionRequest& request,
                           v1::OpenSessionReply* reply);
  absl::Status CloseSession(Application& app, const v1::SessionRequest& request,
                            v1::StatusReply* reply);
  absl::Status CloseAllSessions(Application& app, const v1::SlotRequest& request,
                                v1::StatusReply* reply);
  absl::Status GetSessionInfo(Application& app, const v1::SessionRequest& request,
                              v1::GetSessionInfoReply* reply);
  absl::Status Login(Application& app, const v1::LoginRequest& request, v1::StatusReply* reply);
  absl::Status Logout(Application& app, const v1::SessionRequest& request, v1::StatusReply* reply);

  // Object management (hsm_objects.cc).
  absl::Status CreateObject(Application& app, const v1::CreateObjectRequest& request, v1::ObjectReply* reply);
  absl::Status CopyObject(Application& app, const v1::CopyObjectRequest& request, v1::ObjectReply* reply);
  absl::Status DestroyObject(Application& app, const v1::ObjectRequest& request, v1::StatusReply* reply);
  absl::Status GetObjectSize(Application& app, const v1::ObjectRequest& request, v1::GetObjectSizeReply* reply);
  absl::Status GetAttributeValue(Application& app, const v1::GetAttributeValueRequest& request,
                                 v1::GetAttributeValueReply* reply);
  absl::Status SetAttributeValue(Application& app, const v1::SetAttributeValueRequest& request,
                                 v1::StatusReply* reply);
  absl::Status FindObjectsInit(Application& app, const v1::FindObjectsInitRequest& request,
                               v1::FindObjectsInitReply* reply);
  absl::Status FindObjects(Application& app, const v1::FindObjectsRequest& request,
                           v1::FindObjectsReply* reply);
  absl::Status FindObjectsFinal(Application& app, const v1::SessionRequest& request,
                                v1::StatusReply* reply);

  // Encryption, decryption, digests, signatures (hsm_crypto.cc).
  absl::Status EncryptInit(Application& app, const v1::OperationInitRequest& request, v1::StatusReply* reply);
  absl::Status Encrypt(Application& app, const v1::DataRequest& request, v1::DataReply* reply);
  absl::Status EncryptUpdate(Application& app, const v1::DataRequest& request, v1::DataReply* reply);
  absl::Status EncryptFinal(Application& app, const v1::OutputRequest& request, v1::DataReply* reply);
  absl::Status DecryptInit(Application& app, const v1::OperationInitRequest& request, v1::StatusReply* reply);
  absl::Status Decrypt(Application& app, const v1::DataRequest& request, v1::DataReply* reply);
  absl::Status DecryptUpdate(Application& app, const v1::DataRequest& request, v1::DataReply* reply);
  absl::Status DecryptFinal(Application& app, const v1::OutputRequest& request, v1::DataReply* reply);
  absl::Status DigestInit(Application& app, const v1::OperationInitRequest& request, v1::StatusReply* reply);
  absl::Status Digest(Application& app, const v1::DataRequest& request, v1::DataReply* reply);
  absl::Status DigestUpdate(Application& app, const v1::DataRequest& request, v1::StatusReply* reply);
  absl::Status DigestKey(Application& app, const v1::ObjectRequest& request, v1::StatusReply* reply);
  absl::Status DigestFinal(Application& app, const v1::OutputRequest& request, v1::DataReply* reply);
  absl::Status SignInit(Application& app, const v1::OperationInitRequest& request, v1::StatusReply* reply);
  absl::Status Sign(Application& app, const v1::DataRequest& request, v1::DataReply* reply);
  absl::Status SignUpdate(Application& app, const v1::DataRequest& request, v1::StatusReply* reply);
  absl::Status SignFinal(Application& app, const v1::OutputRequest& request, v1::DataReply* reply);
  absl::Status SignRecoverInit(Application& app, const v1::OperationInitRequest& request, v1::StatusReply* reply);
  absl::Status SignRecover(Application& app, const v1::DataRequest& request, v1::DataReply* reply);
  absl::Status VerifyInit(Application& app, const v1::OperationInitRequest& request, v1::StatusReply* reply);
  absl::Status Verify(Application& app, const v1::VerifyRequest& request, v1::StatusReply* reply);
  absl::Status VerifyUpdate(Application& app, const v1::DataRequest& request, v1::StatusReply* reply);
  absl::Status VerifyFinal(Application& app, const v1::VerifyRequest& request, v1::StatusReply* reply);
  absl::Status VerifyRecoverInit(Application& app, const v1::OperationInitRequest& request,
                                 v1::StatusReply* reply);
  absl::Status VerifyRecover(Application& app, const v1::DataRequest& request, v1::DataReply* reply);

  // Key management (hsm_keys.cc).
  absl::Status GenerateKey(Application& app, const v1::GenerateKeyRequest& request, v1::ObjectReply* reply);
  absl::Status GenerateKeyPair(Application& app, const v1::GenerateKeyPairRequest& request,
                               v1::GenerateKeyPairReply* reply);
  absl::Status WrapKey(Application& app, const v1::WrapKeyRequest& request, v1::DataReply* reply);
  absl::Status UnwrapKey(Application& app, const v1::UnwrapKeyRequest& request, v1::ObjectReply* reply);
  absl::Status DeriveKey(Application& app, const v1::DeriveKeyRequest& request, v1::ObjectReply* reply);

  // Random number generation (hsm_random.cc).
  absl::Status SeedRandom(Application& app, const v1::SeedRandomRequest& request,
                          v1::StatusReply* reply);
  absl::Status GenerateRandom(Application& app, const v1::GenerateRandomRequest& request,
                              v1::DataReply* reply);

 private:
  // The token in `slot_id`, or CKR_SLOT_ID_INVALID if the application has no
  // such slot.
  absl::StatusOr<storage::Token> TokenOf(const Application& app, uint64_t slot_id);
  // The session's slot, or CKR_SESSION_HANDLE_INVALID. Locks the app briefly.
  absl::StatusOr<Session> SessionCopy(Application& app, uint64_t session_id);
  absl::Status CheckPinLength(const std::string& pin) const;
  // Checks `pin` against the token's user or SO PIN, counting failures:
  // CKR_PIN_LOCKED once locked, CKR_PIN_INCORRECT for a wrong PIN.
  absl::Status VerifyPin(uint64_t tenant_id, uint64_t slot_id, bool security_officer, const std::string& pin);
  // Quotas (hsm_quotas.cc): CKR_SESSION_COUNT or CKR_DEVICE_MEMORY when the
  // tenant is at its limit.
  absl::Status CheckApplicationQuota(uint64_t tenant_id);
  // The most sessions the tenant's applications may have open together: its
  // quota, or --max_sessions_per_tenant (0: no limit).
  absl::StatusOr<uint64_t> TenantSessionLimit(const Application& app);
  // Whether the tenant's sessions are limited (true if that cannot be read).
  bool HasSessionQuota(uint64_t tenant_id);
  absl::Status CheckObjectQuota(uint64_t tenant_id);
  // C_Login(CKU_CONTEXT_SPECIFIC) for the operation waiting for it.
  absl::Status ContextLogin(Application& app, const Session& session, const std::string& pin);
  // Whether any application of the tenant has a session on the slot.
  bool AnySessionOn(uint64_t tenant_id, uint64_t slot_id);

  // Objects (hsm_objects.cc). An object as a session sees it.
  struct ObjectView {
    bool on_token = false;
    uint64_t handle = 0;
    storage::AttributeSet attributes;
  };
  // The object `handle` names for `session`, or CKR_OBJECT_HANDLE_INVALID
  // (no such object, another token's, or private while the user is not
  // logged in).
  absl::StatusOr<ObjectView> LoadObject(Application& app, const Session& session, uint64_t handle);
  // Stores a new object where its CKA_TOKEN says, after the session checks:
  // token objects need a read-write session, private ones a logged-in user.
  absl::StatusOr<uint64_t> StoreNewObject(Application& app, const Session& session,
                                          const storage::AttributeSet& object);
  absl::Status SaveObject(Application& app, const Session& session, const ObjectView& object);
  // After an NSS trust object is created: the older ones for its certificate go.
  absl::Status ReplaceOlderTrust(Application& app, const Session& session, const storage::AttributeSet& object,
                                 uint64_t handle);
  storage::TokenRef TokenOf(const Application& app, const Session& session) const {
    return storage::TokenRef{app.tenant_id(), session.slot_id};
  }

  // Keys (hsm_crypto.cc). The key `handle` names, parsed (cached for token
  // objects), or CKR_KEY_HANDLE_INVALID.
  absl::StatusOr<std::shared_ptr<const UsableKey>> KeyFor(Application& app, const Session& session,
                                                          uint64_t handle);
  // The C_*Init a data call carries (DataRequest.init ...), run exactly as
  // the Init RPC `init` (audited as `name`) would run it on the call's
  // session; OK at once if the call carries none.
  using InitMethod = absl::Status (Hsm::*)(Application&, const v1::OperationInitRequest&, v1::StatusReply*);
  template <typename Request>
  absl::Status RunCarriedInit(Application& app, const Request& request, InitMethod init, const char* name);
  // The sessions a call carries in `close_first` (deferred C_CloseSession),
  // closed as CloseSession would, before the call itself.
  void CloseCarriedSessions(Application& app, const google::protobuf::RepeatedField<uint64_t>& sessions);
  // Stores a generated or unwrapped key and primes the key cache with it.
  absl::StatusOr<uint64_t> StoreNewKey(Application& app, const Session& session,
                                       const storage::AttributeSet& object, crypto::EvpPkeyPtr pkey);

  storage::TokenStore* tokens_;
  storage::ObjectStore* objects_;
  ApplicationRegistry* apps_;
  HsmOptions options_;
  KeyCache keys_;
  // Random per start, so clients can tell a restarted hsmd.
  const uint64_t instance_id_;
};

// Product identity reported in slot, token and library information.
inline constexpr char kManufacturer[] = "hsmd network HSM";
inline constexpr char kModel[] = "hsmd";
inline constexpr uint32_t kVersionMajor = 0;
inline constexpr uint32_t kVersionMinor = 1;

}  // namespace hsm::server

#endif  // HSM_SERVER_HSM_H_
