#include "client/config.h"

#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <sstream>

namespace hsm::client {
namespace {

std::string Trim(const std::string& s) {
  size_t begin = s.find_first_not_of(" \t\r");
  if (begin == std::string::npos) return "";
  size_t end = s.find_last_not_of(" \t\r");
  return s.substr(begin, end - begin + 1);
}

// A decimal number of at least `minimum` (and within int64_t).
bool ParseAtLeast(const std::string& text, int64_t minimum, int64_t& out) {
  if (text.empty()) return false;
  char* end = nullptr;
  errno = 0;
  long long value = std::strtoll(text.c_str(), &end, 10);
  if (errno != 0 || *end != '\0' || value < minimum) return false;
  out = value;
  return true;
}

bool ParseMilliseconds(const std::string& text, int64_t& out) { return ParseAtLeast(text, 1, out); }

bool ParseNonNegative(const std::string& text, int64_t& out) { return ParseAtLeast(text, 0, out); }

bool ValidServer(const std::string& server) {
  size_t colon = server.rfind(':');
  if (colon == std::string::npos || colon == 0 || colon + 1 == server.size()) return false;
  const std::string port = server.substr(colon + 1);
  return port.find_first_not_of("0123456789") == std::string::npos && std::atoi(port.c_str()) > 0 &&
         std::atoi(port.c_str()) < 65536;
}

bool Set(const std::string& key, const std::string& value, Config& config, std::string& why) {
  if (key == "server") {
    if (!ValidServer(value)) {
      why = "server must be HOST:PORT, got '" + value + "'";
      return false;
    }
    config.server = value;
  } else if (key == "deadline_ms") {
    if (!ParseMilliseconds(value, config.deadline_ms)) {
      why = "deadline_ms must be a positive number of milliseconds";
      return false;
    }
  } else if (key == "long_deadline_ms") {
    if (!ParseMilliseconds(value, config.long_deadline_ms)) {
      why = "long_deadline_ms must be a positive number of milliseconds";
      return false;
    }
  } else if (key == "connect_wait_ms") {
    if (!ParseMilliseconds(value, config.connect_wait_ms)) {
      why = "connect_wait_ms must be a positive number of milliseconds";
      return false;
    }
  } else if (key == "reply_spin_us") {
    if (!ParseNonNegative(value, config.reply_spin_us)) {
      why = "reply_spin_us must be a number of microseconds, 0 or more";
      return false;
    }
  } else if (key == "ca_file") {
    config.ca_file = value;
  } else if (key == "cert_file") {
    config.cert_file = value;
  } else if (key == "key_file") {
    config.key_file = value;
  } else if (key == "server_name") {
    config.server_name = value;
  } else {
    why = "unknown key '" + key + "'";
    return false;
  }
  return true;
}

}  // namespace

bool ParseConfig(const std::string& text, const std::string& source, Config& config,
                 std::string& error) {
  std::istringstream lines(text);
  std::string line;
  for (int number = 1; std::getline(lines, line); ++number) {
    size_t hash = line.find('#');
    if (hash != std::string::npos) line.resize(hash);
    line = Trim(line);
    if (line.empty()) continue;
    size_t equals = line.find('=');
    std::string why;
    if (equals == std::string::npos) {
      why = "expected 'key = value'";
    } else if (Set(Trim(line.substr(0, equals)), Trim(line.substr(equals + 1)), config, why)) {
      continue;
    }
    error = source + ":" + std::to_string(number) + ": " + why;
    return false;
  }
  return true;
}

bool LoadConfig(Config& config, std::string& error) {
  config = Config();
  const char* named = std::getenv("HSM_PKCS11_CONFIG");
  std::string path = named != nullptr ? named : "";
  if (path.empty()) {
    std::ifstream probe(kDefaultConfigPath);
    if (probe.good()) path = kDefaultConfigPath;
  }
  if (!path.empty()) {
    std::ifstream file(path);
    if (!file.good()) {
      error = "cannot read the configuration file " + path + " (named by HSM_PKCS11_CONFIG): " +
              std::strerror(errno);
      return false;
    }
    std::stringstream content;
    content << file.rdbuf();
    if (!ParseConfig(content.str(), path, config, error)) return false;
  }
  struct Override {
    const char* variable;
    const char* key;
  };
  for (const Override& o : {Override{"HSM_SERVER", "server"}, Override{"HSM_DEADLINE_MS", "deadline_ms"},
                            Override{"HSM_LONG_DEADLINE_MS", "long_deadline_ms"},
                            Override{"HSM_CONNECT_WAIT_MS", "connect_wait_ms"},
                            Override{"HSM_REPLY_SPIN_US", "reply_spin_us"},
                            Override{"HSM_TLS_CA", "ca_file"}, Override{"HSM_TLS_CERT", "cert_file"},
                            Override{"HSM_TLS_KEY", "key_file"},
                            Override{"HSM_TLS_SERVER_NAME", "server_name"}}) {
    const char* value = std::getenv(o.variable);
    if (value == nullptr || *value == '\0') continue;
    std::string why;
    if (!Set(o.key, Trim(value), config, why)) {
      error = std::string("environment variable ") + o.variable + ": " + why;
      return false;
    }
  }
  // TLS files are read now, so a wrong path is reported by C_Initialize.
  if (config.tls() != (!config.cert_file.empty() && !config.key_file.empty())) {
    error = "TLS needs ca_file, cert_file and key_file together";
    return false;
  }
  for (const std::string* path : {&config.ca_file, &config.cert_file, &config.key_file}) {
    if (path->empty()) continue;
    std::ifstream probe(*path);
    if (!probe.good()) {
      error = "cannot read " + *path + ": " + std::strerror(errno);
      return false;
    }
  }
  return true;
}

}  // namespace hsm::client
