// hsmd: the network HSM daemon. See README.md and docs/tenants.md.
#include <grp.h>
#include <malloc.h>
#include <grpcpp/grpcpp.h>
#include <signal.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cstdio>
#include <fstream>
#include <memory>
#include <sstream>
#include <string>

#include "absl/flags/flag.h"
#include "absl/flags/parse.h"
#include "absl/flags/usage.h"
#include "absl/strings/str_cat.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "server/admin_service.h"
#include "server/application_registry.h"
#include "server/audit_log.h"
#include "server/dev_setup.h"
#include "server/hsm.h"
#include "server/listen_address.h"
#include "server/log.h"
#include "server/pkcs11_service.h"
#include "server/rpc_routes.h"
#include "server/rpc_server.h"
#include "server/tenant_map.h"
#include "storage/lmdb_env.h"
#include "storage/object_store.h"
#include "storage/sealer.h"
#include "storage/token_store.h"

ABSL_FLAG(std::string, mode, "development",
          "development: plain text on loopback allowed, a development tenant and token, a master key "
          "created beside the data; production: TLS and a master key required");
ABSL_FLAG(std::string, listen, "127.0.0.1:7700",
          "HOST:PORT to serve on; port 0 picks a free port (see --port_file)");
ABSL_FLAG(std::string, data_dir, "hsm-data", "folder holding the LMDB database");
ABSL_FLAG(std::string, tls_cert, "", "PEM certificate chain of hsmd (enables TLS)");
ABSL_FLAG(std::string, tls_key, "", "PEM private key of --tls_cert");
ABSL_FLAG(std::string, tls_client_ca, "", "PEM CA certificates that sign the clients' certificates");
ABSL_FLAG(std::string, tenants, "", "the tenant map: client certificate identities to tenants (docs/tenants.md)");
ABSL_FLAG(std::string, master_key_file, "",
          "file holding the 32-byte master key that seals key material at rest (or set HSM_MASTER_KEY "
          "to 64 hex digits); empty in development mode: DATA_DIR/master.key, created on first start");
ABSL_FLAG(std::string, admin_socket, "", "unix socket of the admin API; default DATA_DIR/admin.sock");
ABSL_FLAG(std::string, admin_group, "", "group that may use the admin socket (default: its owner only)");
ABSL_FLAG(std::string, audit_log, "", "the audit trail; default DATA_DIR/audit.log");
ABSL_FLAG(std::string, on_audit_failure, "refuse",
          "while the audit log cannot be written (a full disk): refuse (calls that must be audited get "
          "CKR_DEVICE_MEMORY) or continue (they run unaudited; the trail counts the lost records)");
ABSL_FLAG(absl::Duration, app_timeout, absl::Seconds(30),
          "drop a client application (its sessions and logins) not heard from for this long");
ABSL_FLAG(uint64_t, pin_kdf_iterations, 100000, "PBKDF2 rounds for new PIN verifiers");
ABSL_FLAG(uint64_t, max_pin_failures, 10,
          "failed logins in a row that lock a PIN (until C_InitPIN by the SO or hsmctl pin unlock)");
ABSL_FLAG(uint64_t, max_session_object_bytes, uint64_t{64} << 20,
          "memory one application's session objects may hold together, in bytes (CKR_DEVICE_MEMORY beyond)");
ABSL_FLAG(uint64_t, max_operation_bytes, uint64_t{64} << 20,
          "memory one application's operations may keep between calls together, in bytes: AES-GCM "
          "ciphertext until C_DecryptFinal, outputs kept for a retry with a larger buffer, the matches of "
          "open searches (CKR_DEVICE_MEMORY beyond)");
ABSL_FLAG(uint64_t, max_sessions_per_application, 16384,
          "sessions one application may have open at once, on all its slots (CK_TOKEN_INFO."
          "ulMaxSessionCount; CKR_SESSION_COUNT beyond); 0: no limit");
ABSL_FLAG(uint64_t, max_sessions_per_tenant, 65536,
          "sessions all of a tenant's applications may have open at once, for tenants without a session "
          "quota of their own (CKR_SESSION_COUNT beyond); 0: no limit");
ABSL_FLAG(uint64_t, max_applications_per_tenant, 4096,
          "client applications (C_Initialize) a tenant may have at once, for tenants without an application "
          "quota of their own (CKR_DEVICE_MEMORY beyond); 0: no limit");
ABSL_FLAG(int, rpc_threads, 4,
          "threads serving RPCs (one polls while the others run calls that may block: signatures, "
          "PIN checks, LMDB writes; a PIN check, RSA key generation or long search that finds every one busy "
          "starts one more); at least 2");
ABSL_FLAG(int64_t, poll_spin_us, 100,
          "after a call, poll this many microseconds without sleeping before waiting for the next "
          "(saves a thread wake-up per call of a busy client; 0 turns it off)");
ABSL_FLAG(std::string, port_file, "",
          "once serving, write the port number to this file (for scripts using port 0)");

namespace hsm::server {
namespace {

absl::StatusOr<std::string> ReadFile(const std::string& path) {
  std::ifstream file(path);
  if (!file.good()) return absl::NotFoundError(absl::StrCat("cannot read ", path));
  std::stringstream content;
  content << file.rdbuf();
  return content.str();
}

absl::Status WritePortFile(const std::string& path, int port) {
  const std::string temp = path + ".tmp";
  FILE* file = std::fopen(temp.c_str(), "w");
  if (file == nullptr) return absl::InternalError(absl::StrCat("cannot write ", temp));
  std::fprintf(file, "%d\n", port);
  std::fclose(file);
  if (std::rename(temp.c_str(), path.c_str()) != 0) return absl::InternalError(absl::StrCat("cannot rename ", temp));
  return absl::OkStatus();
}

std::string AbsolutePath(const std::string& path) {
  char* resolved = realpath(path.c_str(), nullptr);
  if (resolved == nullptr) return path;
  std::string result(resolved);
  free(resolved);
  return result;
}

// The master key: --master_key_file, HSM_MASTER_KEY, or (development only) a
// key file created beside the data.
absl::StatusOr<std::string> LoadMasterKey(bool production, const std::string& data_dir) {
  std::string path = absl::GetFlag(FLAGS_master_key_file);
  if (path.empty()) {
    if (const char* hex = std::getenv("HSM_MASTER_KEY"); hex != nullptr && *hex != '\0') {
      const std::string temp = data_dir + "/.master.key.env";
      // Parse through the same code as a key file, then forget it.
      { std::ofstream(temp) << hex; }
      absl::StatusOr<std::string> key = storage::Sealer::LoadMasterKey(temp, false, nullptr);
      std::remove(temp.c_str());
      return key;
    }
    if (production) {
      return absl::FailedPreconditionError("production mode needs --master_key_file or HSM_MASTER_KEY");
    }
    path = data_dir + "/master.key";
    bool created = false;
    absl::StatusOr<std::string> key = storage::Sealer::LoadMasterKey(path, true, &created);
    if (created) {
      LogWarning(absl::StrCat("created a development master key in ", path,
                              ": it sits beside the data it protects; use --master_key_file in production"));
    }
    return key;
  }
  return storage::Sealer::LoadMasterKey(path, false, nullptr);
}

absl::StatusOr<std::shared_ptr<grpc::ServerCredentials>> TlsCredentials() {
  absl::StatusOr<std::string> cert = ReadFile(absl::GetFlag(FLAGS_tls_cert));
  absl::StatusOr<std::string> key = ReadFile(absl::GetFlag(FLAGS_tls_key));
  absl::StatusOr<std::string> ca = ReadFile(absl::GetFlag(FLAGS_tls_client_ca));
  for (const auto* part : {&cert, &key, &ca}) {
    if (!part->ok()) return part->status();
  }
  grpc::SslServerCredentialsOptions options(GRPC_SSL_REQUEST_AND_REQUIRE_CLIENT_CERTIFICATE_AND_VERIFY);
  options.pem_root_certs = *ca;
  options.pem_key_cert_pairs.push_back({*key, *cert});
  return grpc::SslServerCredentials(options);
}

absl::Status SecureAdminSocket(const std::string& path) {
  const std::string group = absl::GetFlag(FLAGS_admin_group);
  mode_t mode = 0600;
  if (!group.empty()) {
    struct group* entry = getgrnam(group.c_str());
    if (entry == nullptr) return absl::InvalidArgumentError(absl::StrCat("no group ", group));
    if (chown(path.c_str(), static_cast<uid_t>(-1), entry->gr_gid) != 0) {
      return absl::InternalError(absl::StrCat("cannot give ", path, " to group ", group));
    }
    mode = 0660;
  }
  if (chmod(path.c_str(), mode) != 0) return absl::InternalError(absl::StrCat("cannot chmod ", path));
  return absl::OkStatus();
}

int Fail(const std::string& what, const absl::Status& status) {
  LogError(absl::StrCat(what, ": ", std::string(status.message())));
  return 1;
}

int Run() {
  // SIGTERM and SIGINT are taken by sigwait below; block them before any
  // thread starts so that every thread inherits the mask.
  sigset_t stop_signals;
  sigemptyset(&stop_signals);
  sigaddset(&stop_signals, SIGTERM);
  sigaddset(&stop_signals, SIGINT);
  pthread_sigmask(SIG_BLOCK, &stop_signals, nullptr);
  // A write past the file size limit (ulimit -f) fails with EFBIG, which
  // storage answers as a full disk; by default the signal would kill hsmd.
  signal(SIGXFSZ, SIG_IGN);
  const absl::Time started = absl::Now();

  const std::string mode = absl::GetFlag(FLAGS_mode);
  if (mode != "development" && mode != "production") {
    LogError("--mode is development or production");
    return 2;
  }
  const bool production = mode == "production";
  const std::string on_audit_failure = absl::GetFlag(FLAGS_on_audit_failure);
  if (on_audit_failure != "refuse" && on_audit_failure != "continue") {
    LogError("--on_audit_failure is refuse or continue");
    return 2;
  }
  const bool tls = !absl::GetFlag(FLAGS_tls_cert).empty();
  if (tls && (absl::GetFlag(FLAGS_tls_key).empty() || absl::GetFlag(FLAGS_tls_client_ca).empty() ||
              absl::GetFlag(FLAGS_tenants).empty())) {
    LogError("TLS needs --tls_cert, --tls_key, --tls_client_ca and --tenants together");
    return 2;
  }
  if (production && !tls) {
    LogError("production mode refuses to start without TLS (--tls_cert, --tls_key, --tls_client_ca, --tenants)");
    return 2;
  }
  const std::string listen = absl::GetFlag(FLAGS_listen);
  absl::StatusOr<ListenAddress> address = ParseListenAddress(listen);
  if (!address.ok()) return Fail("--listen", address.status());
  if (!tls && !IsLoopbackHost(address->host)) {
    LogError(absl::StrCat("refusing to serve plain text on ", listen,
                          ": without TLS hsmd listens only on a loopback address"));
    return 2;
  }

  const std::string data_dir = absl::GetFlag(FLAGS_data_dir);
  storage::LmdbEnv::Options storage_options;
  storage_options.on_lmdb_behind = [](const absl::Status& status) {
    if (status.ok()) {
      LogInfo("storage: LMDB has taken the journal again; writes are no longer at risk of refusal");
    } else {
      LogError(absl::StrCat("storage: LMDB cannot take the journal (", status.message(),
                            "); acknowledged writes are safe in the journal, writes go on there and are "
                            "refused once it is full, until LMDB takes it (retried every flush interval)"));
    }
  };
  absl::StatusOr<std::unique_ptr<storage::LmdbEnv>> env = storage::LmdbEnv::Open(data_dir, storage_options);
  if (absl::IsResourceExhausted(env.status())) {
    return Fail("cannot open the data folder: the journal's acknowledged writes are safe, but LMDB needs room to "
                "take them; make room and start hsmd again",
                env.status());
  }
  if (!env.ok()) return Fail("cannot open the data folder", env.status());
  absl::StatusOr<std::unique_ptr<storage::TokenStore>> tokens = storage::TokenStore::Open(env->get());
  if (!tokens.ok()) return Fail("cannot open the token store", tokens.status());
  absl::StatusOr<std::string> master_key = LoadMasterKey(production, data_dir);
  if (!master_key.ok()) return Fail("cannot load the master key", master_key.status());
  absl::StatusOr<std::unique_ptr<storage::Sealer>> sealer = storage::Sealer::Create(*master_key);
  if (!sealer.ok()) return Fail("bad master key", sealer.status());
  absl::StatusOr<std::unique_ptr<storage::ObjectStore>> objects =
      storage::ObjectStore::Open(env->get(), sealer->get());
  if (!objects.ok()) return Fail("cannot open the object store", objects.status());
  std::string audit_path = absl::GetFlag(FLAGS_audit_log);
  if (audit_path.empty()) audit_path = data_dir + "/audit.log";
  absl::StatusOr<std::unique_ptr<AuditLog>> audit = AuditLog::Open(audit_path);
  if (!audit.ok()) return Fail("cannot open the audit log", audit.status());

  HsmOptions options;
  options.pin_kdf_iterations = absl::GetFlag(FLAGS_pin_kdf_iterations);
  options.max_pin_failures = std::max<uint64_t>(1, absl::GetFlag(FLAGS_max_pin_failures));
  options.max_session_object_bytes = absl::GetFlag(FLAGS_max_session_object_bytes);
  options.max_operation_bytes = absl::GetFlag(FLAGS_max_operation_bytes);
  options.max_sessions_per_application = absl::GetFlag(FLAGS_max_sessions_per_application);
  options.max_sessions_per_tenant = absl::GetFlag(FLAGS_max_sessions_per_tenant);
  options.max_applications_per_tenant = absl::GetFlag(FLAGS_max_applications_per_tenant);
  CallerResolver caller_of;
  if (tls) {
    absl::StatusOr<TenantMap> map = TenantMap::Load(absl::GetFlag(FLAGS_tenants));
    if (!map.ok()) return Fail("bad tenant map", map.status());
    caller_of = TlsCallerResolver(*std::move(map), tokens->get());
  }
  if (!production) {
    absl::StatusOr<uint64_t> dev_tenant = EnsureDevTenant(**tokens, data_dir, options);
    if (!dev_tenant.ok()) return Fail("cannot set up the development tenant", dev_tenant.status());
    if (!tls) caller_of = FixedCallerResolver(*dev_tenant, kDevTenantName);
  }

  ApplicationRegistry apps(absl::GetFlag(FLAGS_app_timeout));
  Hsm hsm(tokens->get(), objects->get(), &apps, options);
  Pkcs11Service service(&hsm, &apps, caller_of, audit->get(), on_audit_failure == "refuse");

  std::shared_ptr<grpc::ServerCredentials> credentials = grpc::InsecureServerCredentials();
  if (tls) {
    absl::StatusOr<std::shared_ptr<grpc::ServerCredentials>> tls_credentials = TlsCredentials();
    if (!tls_credentials.ok()) return Fail("cannot set up TLS", tls_credentials.status());
    credentials = *tls_credentials;
  }
  std::string admin_socket = absl::GetFlag(FLAGS_admin_socket);
  if (admin_socket.empty()) admin_socket = AbsolutePath(data_dir) + "/admin.sock";
  if (admin_socket.size() > 107) {  // sockaddr_un's limit
    LogError(absl::StrCat("the admin socket path ", admin_socket, " is longer than a unix socket allows (",
                          admin_socket.size(), " > 107 bytes): give a shorter one with --admin_socket"));
    return 2;
  }
  std::remove(admin_socket.c_str());  // a stale socket of an earlier run

  // One gRPC server for both faces, so that one set of threads polls
  // (server/rpc_server.h): PKCS #11 on the network port, the admin API on
  // the unix socket; each refuses the other's RPCs.
  grpc::ServerBuilder builder;
  int port = 0;
  builder.AddListeningPort(listen, credentials, &port);
  builder.AddListeningPort("unix:" + admin_socket, grpc::InsecureServerCredentials());
  builder.SetMaxReceiveMessageSize(16 << 20);
  v1::Pkcs11::AsyncService pkcs11_rpcs;
  v1::Admin::AsyncService admin_rpcs;
  builder.RegisterService(&pkcs11_rpcs);
  builder.RegisterService(&admin_rpcs);
  RpcServer::Options rpc_options;
  rpc_options.threads = absl::GetFlag(FLAGS_rpc_threads);
  rpc_options.spin = absl::Microseconds(absl::GetFlag(FLAGS_poll_spin_us));
  RpcServer rpc(builder, rpc_options);
  AdminService admin(AdminContext{env->get(), tokens->get(), objects->get(), &apps, &hsm, audit->get(),
                                  listen, AbsolutePath(data_dir), tls, started});
  RoutePkcs11(rpc, pkcs11_rpcs, service);
  RouteAdmin(rpc, admin_rpcs, admin);
  std::unique_ptr<grpc::Server> server = builder.BuildAndStart();
  if (server == nullptr || port == 0) {
    LogError(absl::StrCat("cannot listen on ", listen, " (address in use?) or on the admin socket ", admin_socket));
    return 1;
  }
  // The routes needed the admin service before the port was known; no call
  // is served before Start.
  admin.SetListenAddress(absl::StrCat(address->host, ":", port));
  rpc.Start();
  if (absl::Status secured = SecureAdminSocket(admin_socket); !secured.ok()) {
    server->Shutdown();
    rpc.Stop();
    return Fail("cannot secure the admin socket", secured);
  }

  const std::string port_file = absl::GetFlag(FLAGS_port_file);
  if (!port_file.empty()) {
    if (absl::Status written = WritePortFile(port_file, port); !written.ok()) return Fail("port file", written);
  }
  if (!tls) LogWarning("development mode: plain-text gRPC on loopback, no client certificates");
  LogInfo(absl::StrCat("hsmd ", kVersionMajor, ".", kVersionMinor, " (", mode, ") listening on ",
                       address->host.find(':') != std::string::npos ? "[" + address->host + "]" : address->host,
                       ":", port, tls ? " with TLS" : "", "; data in ", AbsolutePath(data_dir), "; admin socket ",
                       admin_socket));

  int signal_number = 0;
  sigwait(&stop_signals, &signal_number);
  LogInfo(absl::StrCat("stopping on signal ", signal_number));
  const auto deadline = std::chrono::system_clock::now() + std::chrono::seconds(5);
  server->Shutdown(deadline);
  rpc.Stop();
  server->Wait();
  std::remove(admin_socket.c_str());
  LogInfo("stopped");
  return 0;
}

}  // namespace
}  // namespace hsm::server

int main(int argc, char** argv) {
  // Debian builds abseil with its mutex deadlock detection on, which gRPC's
  // locks then pay for on every call; hsmd's lock order is fixed by design.
  absl::SetMutexDeadlockDetectionMode(absl::OnDeadlockCycle::kIgnore);
  // glibc serves a block of 128 KiB or more with its own mapping, returned
  // to the system when freed; but after the first such free it raises that
  // threshold to the block's size, and from then on keeps large blocks (a
  // search matching 100,000 objects holds their handles) in the arena of the
  // RPC thread that used them. hsmd's heap then grew by about 2.5 MiB for
  // each of its threads that served one (bench/soak.sh). A fixed threshold
  // keeps the heap flat.
  mallopt(M_MMAP_THRESHOLD, 128 * 1024);
  absl::SetProgramUsageMessage(
      "hsmd --listen=HOST:PORT --data_dir=DIR [--mode=production --tls_cert=... --tls_key=... "
      "--tls_client_ca=... --tenants=... --master_key_file=...]\n"
      "Serves PKCS #11 tokens to the hsm client library (libhsm_pkcs11.so).");
  absl::ParseCommandLine(argc, argv);
  return hsm::server::Run();
}
