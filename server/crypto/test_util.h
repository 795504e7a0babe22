// Test helpers: hex vectors and CK_RV assertions.
#ifndef HSM_SERVER_CRYPTO_TEST_UTIL_H_
#define HSM_SERVER_CRYPTO_TEST_UTIL_H_

#include <gtest/gtest.h>

#include <cctype>
#include <string>
#include <string_view>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "server/rv.h"

namespace hsm::server::crypto::testing {

// Bytes from hex digits; spaces and newlines are skipped so that vectors can
// be copied as printed in the RFCs.
inline std::string Hex(std::string_view hex) {
  std::string out;
  int high = -1;
  for (char c : hex) {
    if (std::isspace(static_cast<unsigned char>(c))) continue;
    int nibble = std::isdigit(static_cast<unsigned char>(c))
                     ? c - '0'
                     : std::tolower(static_cast<unsigned char>(c)) - 'a' + 10;
    if (high < 0) {
      high = nibble;
    } else {
      out.push_back(static_cast<char>(high << 4 | nibble));
      high = -1;
    }
  }
  return out;
}

inline std::string ToHex(std::string_view bytes) {
  static constexpr char kDigits[] = "0123456789abcdef";
  std::string out;
  for (char c : bytes) {
    out.push_back(kDigits[static_cast<unsigned char>(c) >> 4]);
    out.push_back(kDigits[static_cast<unsigned char>(c) & 0xf]);
  }
  return out;
}

inline ::testing::AssertionResult HasRv(const absl::Status& status, CK_RV rv) {
  if (CarriesRv(status, rv)) return ::testing::AssertionSuccess();
  return ::testing::AssertionFailure() << "expected CK_RV 0x" << std::hex << rv << ", got rv 0x"
                                       << ToRv(status) << " (" << status.ToString() << ")";
}

template <typename T>
::testing::AssertionResult HasRv(const absl::StatusOr<T>& result, CK_RV rv) {
  return HasRv(result.status(), rv);
}

}  // namespace hsm::server::crypto::testing

#endif  // HSM_SERVER_CRYPTO_TEST_UTIL_H_
