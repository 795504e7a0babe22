#include "tests/testing/hsmd_process.h"

#include <fcntl.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <sstream>
#include <thread>

namespace hsm::testing {
namespace {

std::string ReadFile(const std::string& path) {
  std::ifstream file(path);
  std::stringstream content;
  content << file.rdbuf();
  return content.str();
}

}  // namespace

std::string RunfilePath(const std::string& workspace_relative) {
  const char* srcdir = std::getenv("TEST_SRCDIR");
  const char* workspace = std::getenv("TEST_WORKSPACE");
  if (srcdir == nullptr || workspace == nullptr) return workspace_relative;
  return std::string(srcdir) + "/" + workspace + "/" + workspace_relative;
}

std::string MakeTempDir(const std::string& prefix) {
  const char* base = std::getenv("TEST_TMPDIR");
  std::string pattern = std::string(base != nullptr ? base : "/tmp") + "/" + prefix + "XXXXXX";
  std::vector<char> buffer(pattern.begin(), pattern.end());
  buffer.push_back('\0');
  return mkdtemp(buffer.data());
}

std::unique_ptr<HsmdProcess> HsmdProcess::Start(const Options& options) {
  auto process = std::unique_ptr<HsmdProcess>(new HsmdProcess());
  process->options_ = options;
  process->dir_ = MakeTempDir("hsmd");
  process->data_dir_ = process->dir_ + "/data";
  char admin_dir[] = "/tmp/hsmd-admin.XXXXXX";
  process->admin_dir_ = mkdtemp(admin_dir);
  process->admin_socket_ = process->admin_dir_ + "/admin.sock";
  if (!process->Launch("127.0.0.1:0")) return nullptr;
  std::istringstream token(ReadFile(process->data_dir_ + "/dev-token.txt"));
  std::string line;
  while (std::getline(token, line)) {
    size_t equals = line.find('=');
    if (equals == std::string::npos) continue;
    std::string key = line.substr(0, equals), value = line.substr(equals + 1);
    if (key == "label") process->label = value;
    if (key == "so_pin") process->so_pin = value;
    if (key == "user_pin") process->user_pin = value;
    if (key == "slot_id") process->slot_id = std::stoul(value);
  }
  if (process->user_pin.empty()) {
    std::fprintf(stderr, "hsmd wrote no dev-token.txt\n");
    return nullptr;
  }
  return process;
}

bool HsmdProcess::Launch(const std::string& listen) {
  const std::string port_file = dir_ + "/port";
  std::remove(port_file.c_str());
  std::vector<std::string> args = {RunfilePath("server/hsmd"),
                                   "--listen=" + listen,
                                   "--data_dir=" + data_dir_,
                                   "--port_file=" + port_file,
                                   "--admin_socket=" + admin_socket_,
                                   "--app_timeout=" + options_.app_timeout,
                                   // Slow PIN hashing is for production; tests log in often.
                                   "--pin_kdf_iterations=1000"};
  args.insert(args.end(), options_.extra_flags.begin(), options_.extra_flags.end());
  const std::string log = dir_ + "/hsmd.log";
  pid_ = fork();
  if (pid_ == 0) {
    int fd = open(log.c_str(), O_WRONLY | O_CREAT | O_APPEND, 0600);
    dup2(fd, 2);
    std::vector<char*> argv;
    for (std::string& arg : args) argv.push_back(arg.data());
    argv.push_back(nullptr);
    execv(argv[0], argv.data());
    _exit(127);
  }
  for (int i = 0; i < 200; ++i) {  // up to 10 s
    std::string port = ReadFile(port_file);
    if (!port.empty()) {
      port_ = std::stoi(port);
      return true;
    }
    int status;
    if (waitpid(pid_, &status, WNOHANG) == pid_) {
      pid_ = -1;
      break;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  std::fprintf(stderr, "hsmd did not start; its log:\n%s\n", Log().c_str());
  Stop(SIGKILL);
  return false;
}

int HsmdProcess::Stop(int signal) {
  if (pid_ <= 0) return -1;
  kill(pid_, signal);
  int status = 0;
  waitpid(pid_, &status, 0);
  pid_ = -1;
  return status;
}

bool HsmdProcess::Restart() {
  Stop();
  return Launch(address());
}

std::string HsmdProcess::Log() const { return ReadFile(dir_ + "/hsmd.log"); }

HsmdProcess::~HsmdProcess() {
  Stop();
  std::remove(admin_socket_.c_str());
  rmdir(admin_dir_.c_str());
}

}  // namespace hsm::testing
