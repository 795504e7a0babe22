// hsmd: the network HSM daemon. See README.md for how to run it.
#include <grpcpp/grpcpp.h>
#include <grpcpp/health_check_service_interface.h>
#include <signal.h>
#include <stdlib.h>
#include <unistd.h>

#include <cstdio>
#include <memory>
#include <string>

#include "absl/flags/flag.h"
#include "absl/flags/parse.h"
#include "absl/flags/usage.h"
#include "absl/strings/str_cat.h"
#include "absl/time/time.h"
#include "server/application_registry.h"
#include "server/dev_setup.h"
#include "server/hsm.h"
#include "server/listen_address.h"
#include "server/log.h"
#include "server/pkcs11_service.h"
#include "storage/lmdb_env.h"
#include "storage/object_store.h"
#include "storage/sealer.h"
#include "storage/token_store.h"

ABSL_FLAG(std::string, listen, "127.0.0.1:7700",
          "HOST:PORT to serve on; port 0 picks a free port (see --port_file)");
ABSL_FLAG(std::string, data_dir, "hsm-data", "folder holding the LMDB database");
ABSL_FLAG(absl::Duration, app_timeout, absl::Seconds(30),
          "drop a client application (its sessions and logins) not heard from for this long");
ABSL_FLAG(uint64_t, pin_kdf_iterations, 100000, "PBKDF2 rounds for new PIN verifiers");
ABSL_FLAG(uint64_t, max_pin_failures, 10,
          "failed logins in a row that lock a PIN (until C_InitPIN by the SO or hsmctl token unlock)");
ABSL_FLAG(std::string, master_key_file, "",
          "file holding the 32-byte master key that seals key material at rest; empty: "
          "DATA_DIR/master.key, created on first start (development mode)");
ABSL_FLAG(std::string, port_file, "",
          "once serving, write the port number to this file (for scripts using port 0)");

namespace hsm::server {
namespace {

absl::Status WritePortFile(const std::string& path, int port) {
  const std::string temp = path + ".tmp";
  FILE* file = std::fopen(temp.c_str(), "w");
  if (file == nullptr) return absl::InternalError(absl::StrCat("cannot write ", temp));
  std::fprintf(file, "%d\n", port);
  std::fclose(file);
  if (std::rename(temp.c_str(), path.c_str()) != 0) {
    return absl::InternalError(absl::StrCat("cannot rename ", temp));
  }
  return absl::OkStatus();
}

std::string AbsolutePath(const std::string& path) {
  char* resolved = realpath(path.c_str(), nullptr);
  if (resolved == nullptr) return path;
  std::string result(resolved);
  free(resolved);
  return result;
}

int Run() {
  // SIGTERM and SIGINT are taken by sigwait below; block them before any
  // thread starts so that every thread inherits the mask.
  sigset_t stop_signals;
  sigemptyset(&stop_signals);
  sigaddset(&stop_signals, SIGTERM);
  sigaddset(&stop_signals, SIGINT);
  pthread_sigmask(SIG_BLOCK, &stop_signals, nullptr);

  const std::string listen = absl::GetFlag(FLAGS_listen);
  absl::StatusOr<ListenAddress> address = ParseListenAddress(listen);
  if (!address.ok()) {
    LogError(absl::StrCat("--listen: ", address.status().message()));
    return 2;
  }
  if (!IsLoopbackHost(address->host)) {
    LogError(absl::StrCat("refusing to serve plain text on ", listen,
                          ": without TLS hsmd listens only on a loopback address"));
    return 2;
  }

  const std::string data_dir = absl::GetFlag(FLAGS_data_dir);
  absl::StatusOr<std::unique_ptr<storage::LmdbEnv>> env = storage::LmdbEnv::Open(data_dir);
  if (!env.ok()) {
    LogError(absl::StrCat("cannot open the data folder: ", env.status().message()));
    return 1;
  }
  absl::StatusOr<std::unique_ptr<storage::TokenStore>> tokens = storage::TokenStore::Open(env->get());
  if (!tokens.ok()) {
    LogError(absl::StrCat("cannot open the token store: ", tokens.status().message()));
    return 1;
  }
  std::string master_key_file = absl::GetFlag(FLAGS_master_key_file);
  const bool development_key = master_key_file.empty();
  if (development_key) master_key_file = data_dir + "/master.key";
  bool created = false;
  absl::StatusOr<std::string> master_key =
      storage::Sealer::LoadMasterKey(master_key_file, /*create_if_missing=*/development_key, &created);
  if (!master_key.ok()) {
    LogError(absl::StrCat("cannot load the master key: ", master_key.status().message()));
    return 1;
  }
  if (created) {
    LogWarning(absl::StrCat("created a development master key in ", master_key_file,
                            ": it sits beside the data it protects; use --master_key_file in production"));
  }
  absl::StatusOr<std::unique_ptr<storage::Sealer>> sealer = storage::Sealer::Create(*master_key);
  if (!sealer.ok()) {
    LogError(absl::StrCat("bad master key: ", sealer.status().message()));
    return 1;
  }
  absl::StatusOr<std::unique_ptr<storage::ObjectStore>> objects =
      storage::ObjectStore::Open(env->get(), sealer->get());
  if (!objects.ok()) {
    LogError(absl::StrCat("cannot open the object store: ", objects.status().message()));
    return 1;
  }

  HsmOptions options;
  options.pin_kdf_iterations = absl::GetFlag(FLAGS_pin_kdf_iterations);
  options.max_pin_failures = std::max<uint64_t>(1, absl::GetFlag(FLAGS_max_pin_failures));
  absl::StatusOr<uint64_t> dev_tenant = EnsureDevTenant(**tokens, data_dir, options);
  if (!dev_tenant.ok()) {
    LogError(absl::StrCat("cannot set up the development tenant: ", dev_tenant.status().message()));
    return 1;
  }

  ApplicationRegistry apps(absl::GetFlag(FLAGS_app_timeout));
  Hsm hsm(tokens->get(), objects->get(), &apps, options);
  // Development mode: every caller is the development tenant.
  const uint64_t tenant_id = *dev_tenant;
  Pkcs11Service service(&hsm, &apps, [tenant_id](const grpc::CallbackServerContext&) {
    return absl::StatusOr<uint64_t>(tenant_id);
  });

  grpc::EnableDefaultHealthCheckService(true);
  grpc::ServerBuilder builder;
  int port = 0;
  builder.AddListeningPort(listen, grpc::InsecureServerCredentials(), &port);
  builder.RegisterService(&service);
  builder.SetMaxReceiveMessageSize(16 << 20);
  std::unique_ptr<grpc::Server> server = builder.BuildAndStart();
  if (server == nullptr || port == 0) {
    LogError(absl::StrCat("cannot listen on ", listen, " (address in use?)"));
    return 1;
  }
  const std::string port_file = absl::GetFlag(FLAGS_port_file);
  if (!port_file.empty()) {
    absl::Status written = WritePortFile(port_file, port);
    if (!written.ok()) {
      LogError(std::string(written.message()));
      return 1;
    }
  }
  LogWarning("development mode: plain-text gRPC on loopback, one tenant, no client certificates");
  LogInfo(absl::StrCat("hsmd ", kVersionMajor, ".", kVersionMinor, " listening on ",
                       address->host.find(':') != std::string::npos ? "[" + address->host + "]" : address->host,
                       ":", port, "; data in ", AbsolutePath(data_dir)));

  int signal_number = 0;
  sigwait(&stop_signals, &signal_number);
  LogInfo(absl::StrCat("stopping on signal ", signal_number));
  server->Shutdown(std::chrono::system_clock::now() + std::chrono::seconds(5));
  server->Wait();
  LogInfo("stopped");
  return 0;
}

}  // namespace
}  // namespace hsm::server

int main(int argc, char** argv) {
  absl::SetProgramUsageMessage(
      "hsmd --listen=HOST:PORT --data_dir=DIR\n"
      "Serves PKCS #11 tokens to the hsm client library (libhsm_pkcs11.so).");
  absl::ParseCommandLine(argc, argv);
  return hsm::server::Run();
}
