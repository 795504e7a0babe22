// The PKCS #11 2.40 header for this project: p11-kit's, from Debian's
// libp11-kit-dev. Include this file, never p11-kit's directly.
//
// p11-kit's header gives its structures the standard field names through
// lowercase macros (`value`, `count`, `slot_id`, `flags` ...), which stay
// defined after it and would silently rename any identifier of ours with the
// same spelling, protobuf accessors included. Once the structures are
// declared, those macros have done their job; they are removed here.
#ifndef HSM_THIRD_PARTY_PKCS11_PKCS11_H_
#define HSM_THIRD_PARTY_PKCS11_PKCS11_H_

#include <p11-kit-1/p11-kit/pkcs11.h>

#undef aad_len
#undef aad_ptr
#undef ck_attribute
#undef ck_attribute_type_t
#undef ck_c_initialize_args
#undef ck_certificate_type_t
#undef ck_createmutex_t
#undef ck_date
#undef ck_destroymutex_t
#undef ck_flags_t
#undef ck_function_list
#undef ck_hw_feature_type_t
#undef ck_info
#undef ck_key_type_t
#undef ck_lockmutex_t
#undef ck_mechanism
#undef ck_mechanism_info
#undef ck_mechanism_type_t
#undef ck_notification_t
#undef ck_notify_t
#undef ck_object_class_t
#undef ck_object_handle_t
#undef ck_otp_param
#undef ck_otp_params
#undef ck_otp_signature_info
#undef ck_param_type
#undef ck_rsa_pkcs_mgf_type_t
#undef ck_rsa_pkcs_oaep_source_type_t
#undef ck_rv_t
#undef ck_session_handle_t
#undef ck_session_info
#undef ck_slot_id_t
#undef ck_slot_info
#undef ck_state_t
#undef ck_token_info
#undef ck_unlockmutex_t
#undef ck_user_type_t
#undef ck_version
#undef count
#undef counter_bits
#undef create_mutex
#undef cryptoki_version
#undef data_params
#undef destroy_mutex
#undef device_error
#undef firmware_version
#undef free_private_memory
#undef free_public_memory
#undef hardware_version
#undef hash_alg
#undef iv_bits
#undef iv_len
#undef iv_ptr
#undef library_description
#undef library_version
#undef lock_mutex
#undef manufacturer_id
#undef max_key_size
#undef max_pin_len
#undef max_rw_session_count
#undef max_session_count
#undef min_key_size
#undef min_pin_len
#undef parameter
#undef parameter_len
#undef params
#undef public_data
#undef public_data_len
#undef reserved
#undef rw_session_count
#undef s_len
#undef serial_number
#undef session_count
#undef shared_data
#undef shared_data_len
#undef slot_description
#undef slot_id
#undef source_data
#undef source_data_len
#undef string_data
#undef string_data_len
#undef tag_bits
#undef total_private_memory
#undef total_public_memory
#undef unlock_mutex
#undef utc_time
#undef value
#undef value_len

// PKCS #11 3.0 values this project uses that the 2.40 header may lack, each
// defined only if missing, with the value from the 3.0 specification.
#ifndef CKK_EC_EDWARDS
#define CKK_EC_EDWARDS (0x40UL)
#endif
#ifndef CKM_EC_EDWARDS_KEY_PAIR_GEN
#define CKM_EC_EDWARDS_KEY_PAIR_GEN (0x1055UL)
#endif
#ifndef CKM_EDDSA
#define CKM_EDDSA (0x1057UL)
#endif
#ifndef CKM_AES_KEY_WRAP
#define CKM_AES_KEY_WRAP (0x2109UL)
#endif
#ifndef CKM_AES_KEY_WRAP_PAD
#define CKM_AES_KEY_WRAP_PAD (0x210aUL)
#endif
#ifndef CKR_CURVE_NOT_SUPPORTED
#define CKR_CURVE_NOT_SUPPORTED (0x140UL)
#endif

#endif  // HSM_THIRD_PARTY_PKCS11_PKCS11_H_
