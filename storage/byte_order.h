// Fixed-width integers as bytes: big-endian for LMDB keys (LMDB's byte order
// is then numeric order), little-endian inside the journal's records and its
// `applied` counter.
#ifndef HSM_STORAGE_BYTE_ORDER_H_
#define HSM_STORAGE_BYTE_ORDER_H_

#include <cstdint>
#include <string>
#include <string_view>

namespace hsm::storage {

inline std::string Be64(uint64_t value) {
  std::string out(8, '\0');
  for (int i = 7; i >= 0; --i) {
    out[i] = static_cast<char>(value & 0xff);
    value >>= 8;
  }
  return out;
}

// The inverse of Be64 (the first 8 bytes of `bytes`, fewer if it is shorter).
inline uint64_t ReadBe64(std::string_view bytes) {
  uint64_t value = 0;
  for (size_t i = 0; i < 8 && i < bytes.size(); ++i) value = (value << 8) | static_cast<unsigned char>(bytes[i]);
  return value;
}

// Appends the low `bytes` bytes of `value`, least significant first.
inline void AppendLe(std::string* out, uint64_t value, int bytes) {
  for (int i = 0; i < bytes; ++i) out->push_back(static_cast<char>(value >> (8 * i)));
}

// The inverse of AppendLe: `bytes` bytes (fewer if `in` is shorter).
inline uint64_t ReadLe(std::string_view in, int bytes) {
  uint64_t value = 0;
  for (size_t i = 0; i < static_cast<size_t>(bytes) && i < in.size(); ++i) {
    value |= static_cast<uint64_t>(static_cast<unsigned char>(in[i])) << (8 * i);
  }
  return value;
}

}  // namespace hsm::storage

#endif  // HSM_STORAGE_BYTE_ORDER_H_
