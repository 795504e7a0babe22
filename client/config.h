// The client library's configuration: a file named by HSM_PKCS11_CONFIG (or
// /etc/hsm/pkcs11.conf if present), then environment overrides. With neither,
// the defaults reach the development hsmd on loopback.
//
// File format: `key = value` lines; `#` starts a comment. Keys:
//   server            HOST:PORT of hsmd              (env HSM_SERVER)
//   deadline_ms       per-call deadline              (env HSM_DEADLINE_MS)
//   long_deadline_ms  deadline of key generation     (env HSM_LONG_DEADLINE_MS)
//   connect_wait_ms   after hsmd was unreachable, how long a call waits for it
//                     to come back before failing    (env HSM_CONNECT_WAIT_MS)
//   ca_file           PEM CA certificates that sign hsmd's certificate: setting
//                     it turns TLS on                (env HSM_TLS_CA)
//   cert_file         this client's PEM certificate  (env HSM_TLS_CERT)
//   key_file          its PEM private key            (env HSM_TLS_KEY)
//   server_name       the name to check hsmd's certificate against, if not the
//                     host in `server`               (env HSM_TLS_SERVER_NAME)
//   reply_spin_us     how long a call polls for its reply before it sleeps;
//                     0 never polls                  (env HSM_REPLY_SPIN_US)
#ifndef HSM_CLIENT_CONFIG_H_
#define HSM_CLIENT_CONFIG_H_

#include <cstdint>
#include <string>

namespace hsm::client {

struct Config {
  std::string server = "127.0.0.1:7700";
  int64_t deadline_ms = 10000;
  int64_t long_deadline_ms = 300000;
  int64_t connect_wait_ms = 1000;
  std::string ca_file;
  std::string cert_file;
  std::string key_file;
  std::string server_name;
  // Waking a sleeping thread costs 20 to 50 µs on a virtual machine, as much
  // as the round trip itself; polling briefly for the reply saves it on the
  // calls that answer quickly (client/reply_wait.h).
  int64_t reply_spin_us = 400;

  bool tls() const { return !ca_file.empty(); }
};

inline constexpr char kDefaultConfigPath[] = "/etc/hsm/pkcs11.conf";

// Parses `text` over `config`. On error returns false and sets `error` to a
// message that names the line.
bool ParseConfig(const std::string& text, const std::string& source, Config& config,
                 std::string& error);

// Reads the configuration from the file and the environment. On error
// returns false and sets `error` to a message for the user.
bool LoadConfig(Config& config, std::string& error);

}  // namespace hsm::client

#endif  // HSM_CLIENT_CONFIG_H_
