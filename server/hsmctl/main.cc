// hsmctl: administration of hsmd through its admin API (a unix socket in the
// data folder). `hsmctl --help` lists the commands.
//
// Exit codes: 0 done; 1 hsmd refused or the check failed (the message says
// why); 2 bad usage; 3 hsmd could not be reached.
#include <grpcpp/grpcpp.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <functional>
#include <iostream>
#include <map>
#include <sstream>
#include <string>
#include <vector>

#include "absl/flags/flag.h"
#include "absl/flags/parse.h"
#include "absl/flags/usage.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "proto/hsm/v1/admin.grpc.pb.h"
#include "storage/journal.h"

ABSL_FLAG(std::string, data_dir, "hsm-data", "hsmd's data folder (its admin socket is DATA_DIR/admin.sock)");
ABSL_FLAG(std::string, socket, "", "the admin socket, if not DATA_DIR/admin.sock");
ABSL_FLAG(std::string, so_pin_file, "", "file holding the SO PIN (or set HSMCTL_SO_PIN)");
ABSL_FLAG(std::string, user_pin_file, "", "file holding the user PIN (or set HSMCTL_USER_PIN)");
ABSL_FLAG(std::string, pin_file, "", "file holding the new PIN for `pin set` (or set HSMCTL_PIN)");

namespace hsm::ctl {
namespace {

namespace v1 = ::hsm::v1;

constexpr char kUsage[] = R"(hsmctl [--data_dir=DIR | --socket=PATH] COMMAND

Commands:
  status                               what hsmd serves, and how busy it is
  tenant create NAME                   a new tenant (an isolated partition)
  tenant list
  tenant delete NAME                   the tenant, its tokens and their objects
  tenant quota NAME OBJECTS SESSIONS APPLICATIONS
                                       the tenant's limits (0: none for objects;
                                       hsmd's --max_sessions_per_tenant and
                                       --max_applications_per_tenant for the others)
  token create TENANT LABEL            a new initialized token (slot) for TENANT;
                                       PINs from --so_pin_file / --user_pin_file
                                       (or HSMCTL_SO_PIN / HSMCTL_USER_PIN); without
                                       a user PIN the SO sets it with C_InitPIN
  token list TENANT
  token clear TENANT SLOT              destroy every object: an empty slot
  token delete TENANT SLOT
  pin set TENANT SLOT user|so          set a PIN (from --pin_file or HSMCTL_PIN) and unlock it
  pin unlock TENANT SLOT user|so       clear a locked PIN's failure count
  objects TENANT SLOT                  object metadata (never values)
  audit tail [LINES]                   the last audit records (default 20)
  audit verify                         check the audit trail's hash chain
  backup DESTINATION                   a consistent hot copy of the database (still
                                       sealed) into a new folder on hsmd's machine
  restore BACKUP --data_dir=DIR        put a backup in place; hsmd must be stopped

Exit codes: 0 done, 1 refused or failed, 2 bad usage, 3 hsmd unreachable.)";

struct Failure {
  int code;
  std::string message;
};

int Report(const Failure& failure) {
  std::fprintf(stderr, "hsmctl: %s\n", failure.message.c_str());
  return failure.code;
}

std::string SocketPath() {
  const std::string socket = absl::GetFlag(FLAGS_socket);
  return socket.empty() ? absl::GetFlag(FLAGS_data_dir) + "/admin.sock" : socket;
}

std::unique_ptr<v1::Admin::Stub> Connect() {
  if (SocketPath().size() > 107) {
    throw Failure{2, absl::StrCat("the admin socket path ", SocketPath(),
                                  " is longer than a unix socket allows: give a shorter one with --socket")};
  }
  return v1::Admin::NewStub(grpc::CreateChannel("unix:" + SocketPath(), grpc::InsecureChannelCredentials()));
}

// Runs one admin RPC; a failure becomes the command's exit.
template <typename Request, typename Reply>
void Call(grpc::Status (v1::Admin::Stub::*rpc)(grpc::ClientContext*, const Request&, Reply*), const Request& request,
          Reply* reply) {
  grpc::ClientContext context;
  context.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(60));
  grpc::Status status = (Connect().get()->*rpc)(&context, request, reply);
  if (status.ok()) return;
  if (status.error_code() == grpc::StatusCode::UNAVAILABLE) {
    throw Failure{3, absl::StrCat("cannot reach hsmd's admin socket ", SocketPath(), " (", status.error_message(),
                                  "); is hsmd running, and may you open it?")};
  }
  throw Failure{1, status.error_message()};
}

std::string Pin(const std::string& file_flag_value, const char* variable, bool required, const char* what) {
  if (!file_flag_value.empty()) {
    std::ifstream file(file_flag_value);
    if (!file.good()) throw Failure{2, absl::StrCat("cannot read ", file_flag_value)};
    std::string pin;
    std::getline(file, pin);
    return pin;
  }
  if (const char* value = std::getenv(variable); value != nullptr) return value;
  if (required) throw Failure{2, absl::StrCat("give the ", what, " with a file flag or ", variable)};
  return "";
}

uint64_t SlotArg(const std::string& text) {
  uint64_t slot = 0;
  if (!absl::SimpleAtoi(text, &slot) || slot == 0) throw Failure{2, absl::StrCat("'", text, "' is not a slot id")};
  return slot;
}

v1::PinUser UserArg(const std::string& text) {
  if (text == "user") return v1::PIN_USER_USER;
  if (text == "so") return v1::PIN_USER_SO;
  throw Failure{2, absl::StrCat("'", text, "': say user or so")};
}

void Need(const std::vector<std::string>& args, size_t count) {
  if (args.size() != count) throw Failure{2, absl::StrCat("wrong number of arguments; see hsmctl --help")};
}

using Args = std::vector<std::string>;

void Status(const Args& args) {
  Need(args, 1);
  v1::ServerStatusReply reply;
  Call(&v1::Admin::Stub::ServerStatus, v1::ServerStatusRequest(), &reply);
  std::printf("hsmd %s serving %s%s\ndata: %s\ntenants: %lu\napplications: %lu\nuptime: %lus\n",
              reply.version().c_str(), reply.listen().c_str(), reply.tls() ? " with TLS" : " (plain text)",
              reply.data_dir().c_str(), reply.tenants(), reply.applications(), reply.uptime_seconds());
}

void Tenant(const Args& args) {
  if (args.size() < 2) throw Failure{2, "tenant create|list|delete; see hsmctl --help"};
  v1::TenantRequest request;
  if (args[1] == "create") {
    Need(args, 3);
    request.set_tenant(args[2]);
    v1::TenantInfo reply;
    Call(&v1::Admin::Stub::CreateTenant, request, &reply);
    std::printf("created tenant %s\n", reply.name().c_str());
  } else if (args[1] == "list") {
    Need(args, 2);
    v1::ListTenantsReply reply;
    Call(&v1::Admin::Stub::ListTenants, v1::ListTenantsRequest(), &reply);
    std::printf("%-24s %-7s %s\n", "TENANT", "TOKENS", "QUOTA objects/sessions/applications");
    for (const auto& tenant : reply.tenants()) {
      std::printf("%-24s %-7lu %lu/%lu/%lu\n", tenant.name().c_str(), tenant.tokens(), tenant.max_objects(),
                  tenant.max_sessions(), tenant.max_applications());
    }
  } else if (args[1] == "quota") {
    Need(args, 6);
    v1::TenantQuotaRequest quota;
    quota.set_tenant(args[2]);
    uint64_t limits[3];
    for (int i = 0; i < 3; ++i) {
      if (!absl::SimpleAtoi(args[3 + i], &limits[i])) throw Failure{2, absl::StrCat("'", args[3 + i], "' is not a number")};
    }
    quota.set_max_objects(limits[0]);
    quota.set_max_sessions(limits[1]);
    quota.set_max_applications(limits[2]);
    v1::TenantInfo reply;
    Call(&v1::Admin::Stub::SetTenantQuota, quota, &reply);
    std::printf("tenant %s: at most %lu objects, %lu sessions, %lu applications (0: hsmd's default, which for "
                "objects is no limit)\n",
                reply.name().c_str(), reply.max_objects(), reply.max_sessions(), reply.max_applications());
  } else if (args[1] == "delete") {
    Need(args, 3);
    request.set_tenant(args[2]);
    v1::Empty reply;
    Call(&v1::Admin::Stub::DeleteTenant, request, &reply);
    std::printf("deleted tenant %s and everything it held\n", args[2].c_str());
  } else {
    throw Failure{2, absl::StrCat("unknown tenant command '", args[1], "'")};
  }
}

void Token(const Args& args) {
  if (args.size() < 3) throw Failure{2, "token create|list|clear|delete TENANT ...; see hsmctl --help"};
  if (args[1] == "create") {
    Need(args, 4);
    v1::CreateTokenRequest request;
    request.set_tenant(args[2]);
    request.set_label(args[3]);
    request.set_so_pin(Pin(absl::GetFlag(FLAGS_so_pin_file), "HSMCTL_SO_PIN", true, "SO PIN"));
    request.set_user_pin(Pin(absl::GetFlag(FLAGS_user_pin_file), "HSMCTL_USER_PIN", false, "user PIN"));
    v1::AdminTokenInfo reply;
    Call(&v1::Admin::Stub::CreateToken, request, &reply);
    std::printf("created token '%s' in slot %lu of tenant %s (serial %s)%s\n", reply.label().c_str(), reply.slot_id(),
                reply.tenant().c_str(), reply.serial_number().c_str(),
                reply.user_pin_initialized() ? "" : "; the SO sets the user PIN with C_InitPIN");
    return;
  }
  if (args[1] == "list") {
    Need(args, 3);
    v1::TenantRequest request;
    request.set_tenant(args[2]);
    v1::ListTokensReply reply;
    Call(&v1::Admin::Stub::ListTokens, request, &reply);
    std::printf("%-6s %-32s %-18s %-8s %-14s %s\n", "SLOT", "LABEL", "SERIAL", "OBJECTS", "USER PIN", "FAILURES user/so");
    for (const auto& token : reply.tokens()) {
      std::printf("%-6lu %-32s %-18s %-8lu %-14s %lu/%lu\n", token.slot_id(), token.label().c_str(),
                  token.serial_number().c_str(), token.objects(), token.user_pin_initialized() ? "set" : "not set",
                  token.user_pin_failures(), token.so_pin_failures());
    }
    return;
  }
  Need(args, 4);
  v1::TokenRequest request;
  request.set_tenant(args[2]);
  request.set_slot_id(SlotArg(args[3]));
  v1::Empty reply;
  if (args[1] == "clear") {
    Call(&v1::Admin::Stub::ClearToken, request, &reply);
    std::printf("slot %s of tenant %s is empty\n", args[3].c_str(), args[2].c_str());
  } else if (args[1] == "delete") {
    Call(&v1::Admin::Stub::DeleteToken, request, &reply);
    std::printf("deleted the token in slot %s of tenant %s\n", args[3].c_str(), args[2].c_str());
  } else {
    throw Failure{2, absl::StrCat("unknown token command '", args[1], "'")};
  }
}

void PinCommand(const Args& args) {
  if (args.size() != 5) throw Failure{2, "pin set|unlock TENANT SLOT user|so; see hsmctl --help"};
  v1::Empty reply;
  if (args[1] == "set") {
    v1::SetTokenPinRequest request;
    request.set_tenant(args[2]);
    request.set_slot_id(SlotArg(args[3]));
    request.set_user(UserArg(args[4]));
    request.set_new_pin(Pin(absl::GetFlag(FLAGS_pin_file), "HSMCTL_PIN", true, "new PIN"));
    Call(&v1::Admin::Stub::SetTokenPin, request, &reply);
    std::printf("set the %s PIN of slot %s\n", args[4].c_str(), args[3].c_str());
  } else if (args[1] == "unlock") {
    v1::UnlockPinRequest request;
    request.set_tenant(args[2]);
    request.set_slot_id(SlotArg(args[3]));
    request.set_user(UserArg(args[4]));
    Call(&v1::Admin::Stub::UnlockPin, request, &reply);
    std::printf("unlocked the %s PIN of slot %s\n", args[4].c_str(), args[3].c_str());
  } else {
    throw Failure{2, absl::StrCat("unknown pin command '", args[1], "'")};
  }
}

void Objects(const Args& args) {
  Need(args, 3);
  v1::TokenRequest request;
  request.set_tenant(args[1]);
  request.set_slot_id(SlotArg(args[2]));
  v1::ListObjectsReply reply;
  Call(&v1::Admin::Stub::ListObjects, request, &reply);
  std::printf("%-8s %-12s %-10s %-8s %-40s %s\n", "HANDLE", "CLASS", "KEY TYPE", "FLAGS", "CKA_ID", "LABEL");
  for (const auto& object : reply.objects()) {
    std::string flags = absl::StrCat(object.is_private() ? "p" : "-", object.sensitive() ? "s" : "-",
                                     object.extractable() ? "x" : "-");
    std::printf("%-8lu 0x%-10lx 0x%-8lx %-8s %-40s %s\n", object.handle(), object.object_class(), object.key_type(),
                flags.c_str(), object.id_hex().c_str(), object.label().c_str());
  }
}

void Audit(const Args& args) {
  if (args.size() >= 2 && args[1] == "tail") {
    if (args.size() > 3) throw Failure{2, "audit tail [LINES]"};
    v1::AuditTailRequest request;
    uint64_t lines = 20;
    if (args.size() == 3 && !absl::SimpleAtoi(args[2], &lines)) throw Failure{2, "LINES is a number"};
    request.set_lines(lines);
    v1::AuditTailReply reply;
    Call(&v1::Admin::Stub::AuditTail, request, &reply);
    for (const std::string& line : reply.lines()) std::printf("%s\n", line.c_str());
  } else if (args.size() == 2 && args[1] == "verify") {
    v1::AuditVerifyReply reply;
    Call(&v1::Admin::Stub::AuditVerify, v1::AuditVerifyRequest(), &reply);
    if (!reply.intact()) {
      throw Failure{1, absl::StrCat("the audit trail is broken at line ", reply.bad_line(), ": ", reply.problem(),
                                    " (", reply.records(), " records before it are intact)")};
    }
    std::printf("the audit trail is intact: %lu records\n", reply.records());
  } else {
    throw Failure{2, "audit tail [LINES] | audit verify"};
  }
}

void Backup(const Args& args) {
  Need(args, 2);
  v1::BackupRequest request;
  request.set_destination(args[1]);
  v1::BackupReply reply;
  Call(&v1::Admin::Stub::Backup, request, &reply);
  std::printf("backed up %lu bytes to %s (still sealed: restore it with the same master key)\n", reply.bytes(),
              reply.path().c_str());
}

void Restore(const Args& args) {
  Need(args, 2);
  const std::string source = args[1] + "/data.mdb";
  const std::string data_dir = absl::GetFlag(FLAGS_data_dir);
  if (access(source.c_str(), R_OK) != 0) throw Failure{1, absl::StrCat("no backup at ", source)};
  // hsmd must not be running on this data folder.
  v1::ServerStatusReply status;
  grpc::ClientContext context;
  context.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(2));
  if (Connect()->ServerStatus(&context, v1::ServerStatusRequest(), &status).ok()) {
    throw Failure{1, "hsmd is running on this data folder: stop it before restoring"};
  }
  mkdir(data_dir.c_str(), 0700);
  const std::string target = data_dir + "/data.mdb", temp = target + ".restoring";
  {
    std::ifstream in(source, std::ios::binary);
    std::ofstream out(temp, std::ios::binary | std::ios::trunc);
    out << in.rdbuf();
    if (!out.good()) throw Failure{1, absl::StrCat("cannot write ", temp)};
  }
  chmod(temp.c_str(), 0600);
  std::remove((data_dir + "/lock.mdb").c_str());
  // The journal belongs to the database being replaced: applied to the
  // backup, its newer records would bring back what the backup predates.
  absl::Status removed = storage::Journal::RemoveFiles(data_dir);
  if (!removed.ok()) throw Failure{1, std::string(removed.message())};
  if (std::rename(temp.c_str(), target.c_str()) != 0) throw Failure{1, absl::StrCat("cannot replace ", target)};
  std::printf("restored %s into %s; start hsmd with the same master key\n", source.c_str(), data_dir.c_str());
}

int Run(const Args& args) {
  static const std::map<std::string, std::function<void(const Args&)>> commands = {
      {"status", Status}, {"tenant", Tenant}, {"token", Token},   {"pin", PinCommand},
      {"objects", Objects}, {"audit", Audit},  {"backup", Backup}, {"restore", Restore}};
  if (args.empty()) return Report({2, "no command; see hsmctl --help"});
  auto command = commands.find(args[0]);
  if (command == commands.end()) return Report({2, absl::StrCat("unknown command '", args[0], "'; see hsmctl --help")});
  try {
    command->second(args);
  } catch (const Failure& failure) {
    return Report(failure);
  }
  return 0;
}

}  // namespace
}  // namespace hsm::ctl

int main(int argc, char** argv) {
  absl::SetProgramUsageMessage(hsm::ctl::kUsage);
  std::vector<char*> positional = absl::ParseCommandLine(argc, argv);
  std::vector<std::string> args(positional.begin() + 1, positional.end());
  return hsm::ctl::Run(args);
}
