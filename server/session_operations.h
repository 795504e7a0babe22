// The cryptographic operations active on a session: at most one of each kind
// (PKCS #11 2.40 section 5.1). They live outside the application's lock so
// that a long operation (RSA signing) holds up nothing but its own session.
#ifndef HSM_SERVER_SESSION_OPERATIONS_H_
#define HSM_SERVER_SESSION_OPERATIONS_H_

#include <memory>
#include <mutex>
#include <optional>
#include <string>

#include "server/crypto/operation.h"
#include "server/memory_budget.h"

namespace hsm::server {

// C_SignRecover / C_VerifyRecover are single-part: the mechanism and key wait
// for the one call.
struct RecoverOperation {
  crypto::MechanismParams params;
  crypto::EvpPkeyPtr key;
};

// An operation and the output of a call whose buffer was too small: PKCS #11
// keeps the operation alive for the retry, which gets this output.
template <typename Operation>
struct Active {
  explicit Active(std::shared_ptr<MemoryBudget> memory) : held(std::move(memory)) {}

  std::unique_ptr<Operation> operation;
  std::optional<std::string> pending;
  // The key has CKA_ALWAYS_AUTHENTICATE: C_Login(CKU_CONTEXT_SPECIFIC) first.
  bool needs_context_login = false;
  // Running it takes long (a private-key RSA operation ...): tell the RPC
  // threads first (server/blocking.h).
  bool slow = false;
  // What the operation keeps between calls (buffered input, `pending`),
  // counted against its application's budget.
  MemoryCharge held;

  explicit operator bool() const { return operation != nullptr; }
  void End() {
    operation.reset();
    pending.reset();
    needs_context_login = false;
    slow = false;
    held.Clear();
  }
};

struct SessionOperations {
  // `memory`: the budget of the application's operations.
  explicit SessionOperations(const std::shared_ptr<MemoryBudget>& memory)
      : encrypt(memory),
        decrypt(memory),
        digest(memory),
        sign(memory),
        verify(memory),
        sign_recover(memory),
        verify_recover(memory) {}

  std::mutex mutex;
  Active<crypto::CipherOperation> encrypt;
  Active<crypto::CipherOperation> decrypt;
  Active<crypto::DigestOperation> digest;
  Active<crypto::SignOperation> sign;
  Active<crypto::VerifyOperation> verify;
  Active<RecoverOperation> sign_recover;
  Active<RecoverOperation> verify_recover;
};

}  // namespace hsm::server

#endif  // HSM_SERVER_SESSION_OPERATIONS_H_
