// A fresh folder for a storage test's data: below TEST_TMPDIR (which bazel
// removes after the test), or /tmp when run by hand.
#ifndef HSM_STORAGE_TEST_DIR_H_
#define HSM_STORAGE_TEST_DIR_H_

#include <stdlib.h>

#include <string>
#include <vector>

namespace hsm::storage {

// `prefix` names the test in the folder's name (e.g. "journal").
inline std::string MakeTestDir(const std::string& prefix) {
  const char* base = getenv("TEST_TMPDIR");
  std::string pattern = std::string(base ? base : "/tmp") + "/" + prefix + "XXXXXX";
  std::vector<char> buffer(pattern.begin(), pattern.end());
  buffer.push_back('\0');
  if (mkdtemp(buffer.data()) == nullptr) abort();  // no folder, no test
  return buffer.data();
}

}  // namespace hsm::storage

#endif  // HSM_STORAGE_TEST_DIR_H_
