// CK_ATTRIBUTE <-> wire Attribute. Standard attributes holding a CK_ULONG or a
// CK_BBOOL travel typed (so the server never depends on this platform's
// sizes); attribute arrays and mechanism lists travel nested; anything else,
// vendor-defined included, travels as bytes, verbatim.
#ifndef HSM_CLIENT_ATTRIBUTE_CODEC_H_
#define HSM_CLIENT_ATTRIBUTE_CODEC_H_

#include "proto/hsm/v1/pkcs11.pb.h"
#include "third_party/pkcs11/pkcs11.h"

namespace hsm::client {

enum class AttributeKind { kBytes, kUlong, kBool, kAttributeArray, kMechanismArray };

AttributeKind KindOf(CK_ATTRIBUTE_TYPE type);

// Encodes `count` attributes. CKR_ARGUMENTS_BAD for a NULL template with a
// count, CKR_ATTRIBUTE_VALUE_INVALID for a value of the wrong size or an
// attribute array inside an attribute array.
CK_RV EncodeTemplate(const CK_ATTRIBUTE* attributes, CK_ULONG count,
                     google::protobuf::RepeatedPtrField<hsm::v1::Attribute>* out);

// The length of `value` as it is in memory here.
CK_ULONG ClientLength(const hsm::v1::Attribute& value);

// Writes `value` into `out` per C_GetAttributeValue: a NULL pValue gets the
// length; a short buffer gets CK_UNAVAILABLE_INFORMATION and
// CKR_BUFFER_TOO_SMALL. Nested arrays are filled the same way, entry by entry.
CK_RV DecodeInto(const hsm::v1::Attribute& value, CK_ATTRIBUTE& out);

}  // namespace hsm::client

#endif  // HSM_CLIENT_ATTRIBUTE_CODEC_H_
