// A real hsmd for a test: started on a fresh temporary data folder and a free
// loopback port, stopped (SIGTERM) when destroyed.
#ifndef HSM_TESTS_TESTING_HSMD_PROCESS_H_
#define HSM_TESTS_TESTING_HSMD_PROCESS_H_

#include <sys/types.h>

#include <memory>
#include <string>
#include <utility>
#include <vector>

namespace hsm::testing {

// The path of a file built by Bazel and listed in the test's data.
std::string RunfilePath(const std::string& workspace_relative);

// A fresh folder under the test's temporary directory.
std::string MakeTempDir(const std::string& prefix);

class HsmdProcess {
 public:
  struct Options {
    std::string app_timeout = "30s";
    std::vector<std::string> extra_flags;
  };
  // The default options, with `flags` added to hsmd's command line.
  static Options WithFlags(std::vector<std::string> flags) {
    Options options;
    options.extra_flags = std::move(flags);
    return options;
  }

  // Starts hsmd and waits until it serves; nullptr (with a message on
  // stderr) if it does not.
  static std::unique_ptr<HsmdProcess> Start(const Options& options);
  static std::unique_ptr<HsmdProcess> Start() { return Start(Options()); }
  ~HsmdProcess();

  // Stops hsmd with `signal` and waits for it to exit; returns its exit status.
  int Stop(int signal = 15);
  // Starts hsmd again on the same data folder and port.
  bool Restart();
  bool running() const { return pid_ > 0; }
  pid_t pid() const { return pid_; }

  int port() const { return port_; }
  std::string address() const { return "127.0.0.1:" + std::to_string(port_); }
  const std::string& data_dir() const { return data_dir_; }
  // The admin API's unix socket (in a short folder: socket paths are limited).
  const std::string& admin_socket() const { return admin_socket_; }
  // What hsmd has written to stderr so far.
  std::string Log() const;

  // The development token, from dev-token.txt.
  std::string label;
  std::string so_pin;
  std::string user_pin;
  unsigned long slot_id = 0;

 private:
  bool Launch(const std::string& listen);

  Options options_;
  std::string dir_;
  std::string data_dir_;
  std::string admin_dir_;
  std::string admin_socket_;
  pid_t pid_ = -1;
  int port_ = 0;
};

}  // namespace hsm::testing

#endif  // HSM_TESTS_TESTING_HSMD_PROCESS_H_
