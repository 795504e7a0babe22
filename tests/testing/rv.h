// CK_RV in test failures by name: EXPECT_THAT(f(...), RvIs(CKR_PIN_INCORRECT))
// prints "CKR_PIN_INCORRECT", not 160.
#ifndef HSM_TESTS_TESTING_RV_H_
#define HSM_TESTS_TESTING_RV_H_

#include <string>

#include "gmock/gmock.h"
#include "third_party/pkcs11/pkcs11.h"

namespace hsm::testing {

std::string RvName(CK_RV rv);

MATCHER_P(RvIs, expected, RvName(expected)) {
  if (arg == static_cast<CK_RV>(expected)) return true;
  *result_listener << "which is " << RvName(arg);
  return false;
}

}  // namespace hsm::testing

#endif  // HSM_TESTS_TESTING_RV_H_
