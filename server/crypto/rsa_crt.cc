// Recovers an RSA key's primes from (n, e, d), the probabilistic method of
// NIST SP 800-56B appendix C: with k = d*e - 1 = 2^t * r, a random g has
// g^(r * 2^i) step through a non-trivial square root of 1 for about half of
// all g, and gcd(root - 1, n) is a prime factor. A key imported without its
// CRT parts then gets them, so it signs at CRT speed, exports as PKCS #8, and
// gets the same full consistency check as any other key.
#include <openssl/bn.h>

#include <string>
#include <utility>

#include "server/crypto/key_internal.h"
#include "server/crypto/openssl_util.h"
#include "server/rv.h"

namespace hsm::server::crypto {
namespace {

// Each base finds the factors with probability >= 1/2; failing 64 in a row
// means d does not belong to (n, e). A d that belongs to no key of (n, e)
// is found out sooner, by the first base: see FindFactor.
constexpr int kMaxBases = 64;

absl::Status Invalid() {
  return RvError(CKR_ATTRIBUTE_VALUE_INVALID, "RSA private exponent does not match the modulus");
}

// p with p | n, 1 < p < n; or an error.
absl::StatusOr<BignumPtr> FindFactor(const BIGNUM* n, const BIGNUM* e, const BIGNUM* d,
                                     BN_CTX* ctx) {
  BignumPtr k(BN_secure_new()), r(BN_secure_new()), n_minus_1(BN_new()), g(BN_new()),
      y(BN_secure_new()), x(BN_secure_new()), p(BN_secure_new());
  if (!k || !r || !n_minus_1 || !g || !y || !x || !p)
    return OpenSslError(CKR_HOST_MEMORY, "BN_new");
  if (BN_mul(k.get(), d, e, ctx) != 1 || BN_sub_word(k.get(), 1) != 1 ||
      BN_copy(n_minus_1.get(), n) == nullptr || BN_sub_word(n_minus_1.get(), 1) != 1) {
    return OpenSslError(CKR_FUNCTION_FAILED, "BN arithmetic");
  }
  // k is a multiple of lcm(p-1, q-1), hence even.
  if (BN_is_zero(k.get()) || BN_is_odd(k.get())) return Invalid();
  int t = 0;
  while (!BN_is_bit_set(k.get(), t)) ++t;
  if (BN_rshift(r.get(), k.get(), t) != 1) return OpenSslError(CKR_FUNCTION_FAILED, "BN_rshift");
  BN_set_flags(r.get(), BN_FLG_CONSTTIME);
  for (int attempt = 0; attempt < kMaxBases; ++attempt) {
    if (BN_priv_rand_range(g.get(), n_minus_1.get()) != 1)
      return OpenSslError(CKR_FUNCTION_FAILED, "BN_rand");
    if (BN_cmp(g.get(), BN_value_one()) <= 0) continue;
    if (BN_mod_exp(y.get(), g.get(), r.get(), n, ctx) != 1)
      return OpenSslError(CKR_FUNCTION_FAILED, "BN_mod_exp");
    if (BN_is_one(y.get()) || BN_cmp(y.get(), n_minus_1.get()) == 0) continue;
    bool reached_minus_one = false;
    for (int i = 1; i <= t; ++i) {
      if (BN_mod_sqr(x.get(), y.get(), n, ctx) != 1)
        return OpenSslError(CKR_FUNCTION_FAILED, "BN_mod_sqr");
      if (BN_is_one(x.get())) {
        // y is a square root of 1 other than +-1: gcd(y - 1, n) splits n.
        if (BN_sub_word(y.get(), 1) != 1 || BN_gcd(p.get(), y.get(), n, ctx) != 1) {
          return OpenSslError(CKR_FUNCTION_FAILED, "BN_gcd");
        }
        if (BN_is_one(p.get()) || BN_cmp(p.get(), n) == 0) return Invalid();
        return p;
      }
      if (BN_cmp(x.get(), n_minus_1.get()) == 0) {
        reached_minus_one = true;
        break;
      }
      std::swap(x, y);
    }
    // Neither 1 nor -1 on the way: g^k is not 1. It is for every g prime to
    // n when d matches (n, e), and a random g shares no factor with an RSA
    // modulus, so no other base need be tried. Without this, a client's key
    // with a foreign d cost 64 exponentiations (6 s at 8192 bits) to refuse.
    if (!reached_minus_one) return Invalid();
  }
  return Invalid();
}

}  // namespace

absl::StatusOr<AttributeBytes> RecoverRsaCrt(const std::string& modulus,
                                             const std::string& public_exponent,
                                             const std::string& private_exponent) {
  BignumPtr n = BytesToBignum(modulus, false);
  BignumPtr e = BytesToBignum(public_exponent, false);
  BignumPtr d = BytesToBignum(private_exponent, true);
  BnCtxPtr ctx(BN_CTX_secure_new());
  BignumPtr q(BN_secure_new()), remainder(BN_new()), p_1(BN_secure_new()), q_1(BN_secure_new()),
      dmp1(BN_secure_new()), dmq1(BN_secure_new()), iqmp(BN_secure_new());
  if (!n || !e || !d || !ctx || !q || !remainder || !p_1 || !q_1 || !dmp1 || !dmq1 || !iqmp) {
    return OpenSslError(CKR_HOST_MEMORY, "BN_new");
  }
  HSM_ASSIGN_OR_RETURN(BignumPtr p, FindFactor(n.get(), e.get(), d.get(), ctx.get()));
  if (BN_div(q.get(), remainder.get(), n.get(), p.get(), ctx.get()) != 1) {
    return OpenSslError(CKR_FUNCTION_FAILED, "BN_div");
  }
  if (!BN_is_zero(remainder.get())) return Invalid();
  // The usual convention (and OpenSSL's key generation): p > q.
  if (BN_cmp(p.get(), q.get()) < 0) std::swap(p, q);
  if (BN_sub(p_1.get(), p.get(), BN_value_one()) != 1 ||
      BN_sub(q_1.get(), q.get(), BN_value_one()) != 1 ||
      BN_mod(dmp1.get(), d.get(), p_1.get(), ctx.get()) != 1 ||
      BN_mod(dmq1.get(), d.get(), q_1.get(), ctx.get()) != 1 ||
      BN_mod_inverse(iqmp.get(), q.get(), p.get(), ctx.get()) == nullptr) {
    ClearOpenSslErrors();
    return Invalid();
  }
  return AttributeBytes{{CKA_PRIME_1, BignumToBytes(p.get())},
                        {CKA_PRIME_2, BignumToBytes(q.get())},
                        {CKA_EXPONENT_1, BignumToBytes(dmp1.get())},
                        {CKA_EXPONENT_2, BignumToBytes(dmq1.get())},
                        {CKA_COEFFICIENT, BignumToBytes(iqmp.get())}};
}

}  // namespace hsm::server::crypto
