// AES and DES3 in ECB, CBC and CBC_PAD modes, and AES-CTR, streaming through
// EVP_CIPHER_CTX. Length rules: without padding the total input must be a
// whole number of blocks (CKR_DATA_LEN_RANGE encrypting,
// CKR_ENCRYPTED_DATA_LEN_RANGE decrypting); bad padding on decryption is
// CKR_ENCRYPTED_DATA_INVALID. CTR refuses to run its counter block's
// counter_bits past their end, where OpenSSL would carry into the nonce.
#include <climits>

#include "absl/numeric/int128.h"
#include "server/crypto/families.h"
#include "server/crypto/openssl_util.h"
#include "server/rv.h"

namespace hsm::server::crypto {
namespace {

constexpr size_t kAesBlock = 16;
constexpr size_t kDesBlock = 8;
constexpr size_t kDes3KeyBytes = 24;

enum class Mode { kEcb, kCbc, kCtr };

struct BlockMechanism {
  bool aes;
  Mode mode;
  bool pad;
};

absl::StatusOr<BlockMechanism> Lookup(CK_MECHANISM_TYPE type) {
  switch (type) {
    case CKM_AES_ECB:
      return BlockMechanism{true, Mode::kEcb, false};
    case CKM_AES_CBC:
      return BlockMechanism{true, Mode::kCbc, false};
    case CKM_AES_CBC_PAD:
      return BlockMechanism{true, Mode::kCbc, true};
    case CKM_AES_CTR:
      return BlockMechanism{true, Mode::kCtr, false};
    case CKM_DES3_ECB:
      return BlockMechanism{false, Mode::kEcb, false};
    case CKM_DES3_CBC:
      return BlockMechanism{false, Mode::kCbc, false};
    case CKM_DES3_CBC_PAD:
      return BlockMechanism{false, Mode::kCbc, true};
    default:
      return RvError(CKR_MECHANISM_INVALID, "not a block cipher mechanism");
  }
}

// How many more blocks CTR may process before counter_bits wrap, minus one
// (so that all 128 bits fit).
absl::uint128 CounterBlocksLeftMinusOne(const MechanismParams::Ctr& ctr) {
  absl::uint128 block = 0;
  for (char c : ctr.counter_block) block = (block << 8) | static_cast<unsigned char>(c);
  absl::uint128 mask =
      ctr.counter_bits >= 128 ? ~absl::uint128(0) : (absl::uint128(1) << ctr.counter_bits) - 1;
  return mask - (block & mask);
}

class EvpCipherOperation : public CipherOperation {
 public:
  EvpCipherOperation(EvpCipherCtxPtr ctx, size_t block, bool pad, bool encrypt,
                     std::optional<absl::uint128> ctr_blocks_left_minus_one)
      : ctx_(std::move(ctx)),
        block_(block),
        pad_(pad),
        encrypt_(encrypt),
        ctr_limit_(ctr_blocks_left_minus_one) {}

  absl::StatusOr<std::string> Update(std::string_view in) override {
    if (in.size() > INT_MAX - block_) return LengthError("input too long");
    HSM_RETURN_IF_ERROR(CheckCounter(in.size()));
    std::string out(in.size() + block_, '\0');
    int length = 0;
    if (EVP_CipherUpdate(ctx_.get(), MutableBytes(out), &length, Bytes(in),
                         static_cast<int>(in.size())) != 1) {
      return OpenSslError(CKR_FUNCTION_FAILED, "EVP_CipherUpdate");
    }
    in_ += in.size();
    out_ += static_cast<size_t>(length);
    out.resize(static_cast<size_t>(length));
    return out;
  }

  absl::StatusOr<std::string> Final() override {
    HSM_RETURN_IF_ERROR(CheckTotal(in_));
    std::string out(block_, '\0');
    int length = 0;
    if (EVP_CipherFinal_ex(ctx_.get(), MutableBytes(out), &length) != 1) {
      if (encrypt_) return OpenSslError(CKR_FUNCTION_FAILED, "EVP_CipherFinal_ex");
      ClearOpenSslErrors();
      return RvError(CKR_ENCRYPTED_DATA_INVALID, "bad padding");
    }
    out.resize(static_cast<size_t>(length));
    return out;
  }

  absl::StatusOr<std::string> Once(std::string_view in) override {
    // Checked first so that a bad length fails before any output is made.
    HSM_RETURN_IF_ERROR(CheckTotal(in.size()));
    HSM_ASSIGN_OR_RETURN(std::string out, Update(in));
    HSM_ASSIGN_OR_RETURN(std::string last, Final());
    return out + last;
  }

  size_t MaxOutputLength(size_t input_len) const override {
    size_t total = (in_ - out_) + input_len;
    if (block_ == 1) return total;
    size_t whole = total / block_ * block_;
    return pad_ && encrypt_ ? whole + block_ : whole;
  }

 private:
  absl::Status LengthError(const std::string& what) const {
    return RvError(encrypt_ ? CKR_DATA_LEN_RANGE : CKR_ENCRYPTED_DATA_LEN_RANGE, what);
  }

  // Whether `total` input bytes make a complete message for the mode.
  absl::Status CheckTotal(size_t total) const {
    if (block_ == 1 || (pad_ && encrypt_)) return absl::OkStatus();
    if (total % block_ != 0) return LengthError("input is not a whole number of blocks");
    if (pad_ && total == 0) return LengthError("padded ciphertext cannot be empty");
    return absl::OkStatus();
  }

  absl::Status CheckCounter(size_t more) const {
    if (!ctr_limit_.has_value()) return absl::OkStatus();
    absl::uint128 total = absl::uint128(in_) + more;
    if (total == 0) return absl::OkStatus();
    absl::uint128 blocks = (total + kAesBlock - 1) / kAesBlock;
    if (blocks - 1 > *ctr_limit_) return LengthError("CTR counter would wrap");
    return absl::OkStatus();
  }

  EvpCipherCtxPtr ctx_;
  size_t block_;  // 1 for CTR
  bool pad_;
  bool encrypt_;
  std::optional<absl::uint128> ctr_limit_;
  size_t in_ = 0;   // bytes given
  size_t out_ = 0;  // bytes returned; in_ - out_ is what OpenSSL holds back
};

}  // namespace

size_t BlockSizeOf(CK_MECHANISM_TYPE mechanism) {
  absl::StatusOr<BlockMechanism> found = Lookup(mechanism);
  if (!found.ok() || found->mode == Mode::kCtr) return 0;
  return found->aes ? kAesBlock : kDesBlock;
}

absl::StatusOr<const EVP_CIPHER*> AesCipher(size_t key_bytes, const std::string& mode) {
  struct Row {
    const char* mode;
    const EVP_CIPHER* (*by_size[3])();
  };
  static const Row kRows[] = {
      {"ECB", {EVP_aes_128_ecb, EVP_aes_192_ecb, EVP_aes_256_ecb}},
      {"CBC", {EVP_aes_128_cbc, EVP_aes_192_cbc, EVP_aes_256_cbc}},
      {"CTR", {EVP_aes_128_ctr, EVP_aes_192_ctr, EVP_aes_256_ctr}},
      {"GCM", {EVP_aes_128_gcm, EVP_aes_192_gcm, EVP_aes_256_gcm}},
      {"WRAP", {EVP_aes_128_wrap, EVP_aes_192_wrap, EVP_aes_256_wrap}},
      {"WRAP-PAD", {EVP_aes_128_wrap_pad, EVP_aes_192_wrap_pad, EVP_aes_256_wrap_pad}},
  };
  int index = key_bytes == 16 ? 0 : key_bytes == 24 ? 1 : key_bytes == 32 ? 2 : -1;
  if (index < 0) return RvError(CKR_KEY_SIZE_RANGE, "AES key must be 16, 24 or 32 bytes");
  for (const Row& row : kRows) {
    if (mode == row.mode) return row.by_size[index]();
  }
  return RvError(CKR_FUNCTION_FAILED, "unknown AES mode");
}

absl::StatusOr<std::unique_ptr<CipherOperation>> NewBlockCipher(const MechanismParams& params,
                                                                const std::string& key,
                                                                bool encrypt) {
  HSM_ASSIGN_OR_RETURN(BlockMechanism mechanism, Lookup(params.type));
  const EVP_CIPHER* cipher = nullptr;
  if (mechanism.aes) {
    const char* mode = mechanism.mode == Mode::kEcb   ? "ECB"
                       : mechanism.mode == Mode::kCbc ? "CBC"
                                                      : "CTR";
    HSM_ASSIGN_OR_RETURN(cipher, AesCipher(key.size(), mode));
  } else {
    if (key.size() != kDes3KeyBytes)
      return RvError(CKR_KEY_SIZE_RANGE, "DES3 key must be 24 bytes");
    cipher = mechanism.mode == Mode::kEcb ? EVP_des_ede3_ecb() : EVP_des_ede3_cbc();
  }
  size_t block = mechanism.aes ? kAesBlock : kDesBlock;
  std::string iv;
  std::optional<absl::uint128> ctr_limit;
  if (mechanism.mode == Mode::kCbc) {
    if (params.iv.size() != block) return RvError(CKR_MECHANISM_PARAM_INVALID, "CBC IV length");
    iv = params.iv;
  } else if (mechanism.mode == Mode::kCtr) {
    if (!params.ctr.has_value() || params.ctr->counter_block.size() != kAesBlock ||
        params.ctr->counter_bits == 0 || params.ctr->counter_bits > 128) {
      return RvError(CKR_MECHANISM_PARAM_INVALID,
                     "CTR needs a 16-byte counter block and 1..128 bits");
    }
    iv = params.ctr->counter_block;
    ctr_limit = CounterBlocksLeftMinusOne(*params.ctr);
    block = 1;
  }
  EvpCipherCtxPtr ctx(EVP_CIPHER_CTX_new());
  if (ctx == nullptr ||
      EVP_CipherInit_ex(ctx.get(), cipher, nullptr, Bytes(key), iv.empty() ? nullptr : Bytes(iv),
                        encrypt ? 1 : 0) != 1 ||
      EVP_CIPHER_CTX_set_padding(ctx.get(), mechanism.pad ? 1 : 0) != 1) {
    return OpenSslError(CKR_FUNCTION_FAILED, "EVP_CipherInit_ex");
  }
  return std::unique_ptr<CipherOperation>(std::make_unique<EvpCipherOperation>(
      std::move(ctx), block, mechanism.pad, encrypt, ctr_limit));
}

}  // namespace hsm::server::crypto
