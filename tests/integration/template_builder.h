// Building PKCS #11 templates in tests: Tmpl keeps the values its attributes
// point to, so a template can be made in one expression.
#ifndef HSM_TESTS_INTEGRATION_TEMPLATE_BUILDER_H_
#define HSM_TESTS_INTEGRATION_TEMPLATE_BUILDER_H_

#include <string>
#include <vector>

#include "third_party/pkcs11/pkcs11.h"

namespace hsm::testing {

// A template under construction: keeps the values its attributes point to.
class Tmpl {
 public:
  Tmpl& Ulong(CK_ATTRIBUTE_TYPE type, CK_ULONG value) {
    return Add(type, &value, sizeof(value));
  }
  Tmpl& Bool(CK_ATTRIBUTE_TYPE type, bool value) {
    CK_BBOOL b = value ? CK_TRUE : CK_FALSE;
    return Add(type, &b, sizeof(b));
  }
  Tmpl& Bytes(CK_ATTRIBUTE_TYPE type, const std::string& value) { return Add(type, value.data(), value.size()); }
  Tmpl& Mechanisms(CK_ATTRIBUTE_TYPE type, const std::vector<CK_MECHANISM_TYPE>& types) {
    return Add(type, types.data(), types.size() * sizeof(CK_MECHANISM_TYPE));
  }
  // An attribute array (CKA_WRAP_TEMPLATE ...) of `entries`, which must
  // outlive this template and not change: the array points into it.
  Tmpl& Array(CK_ATTRIBUTE_TYPE type, Tmpl& entries) {
    return Add(type, entries.data(), entries.size() * sizeof(CK_ATTRIBUTE));
  }
  CK_ATTRIBUTE_PTR data() {
    attributes_.clear();
    for (size_t i = 0; i < types_.size(); ++i) {
      attributes_.push_back({types_[i], values_[i].empty() ? nullptr : values_[i].data(), values_[i].size()});
    }
    return attributes_.data();
  }
  CK_ULONG size() const { return types_.size(); }

 private:
  Tmpl& Add(CK_ATTRIBUTE_TYPE type, const void* value, size_t length) {
    types_.push_back(type);
    values_.emplace_back(static_cast<const char*>(value), static_cast<const char*>(value) + length);
    return *this;
  }
  std::vector<CK_ATTRIBUTE_TYPE> types_;
  std::vector<std::vector<char>> values_;
  std::vector<CK_ATTRIBUTE> attributes_;
};

}  // namespace hsm::testing

#endif  // HSM_TESTS_INTEGRATION_TEMPLATE_BUILDER_H_
