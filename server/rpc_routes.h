// Which handler serves each RPC of proto/hsm/v1 on hsmd's RpcServer, and
// which of them may take long (see server/rpc_server.h).
#ifndef HSM_SERVER_RPC_ROUTES_H_
#define HSM_SERVER_RPC_ROUTES_H_

#include "proto/hsm/v1/admin.grpc.pb.h"
#include "proto/hsm/v1/pkcs11.grpc.pb.h"
#include "server/admin_service.h"
#include "server/pkcs11_service.h"
#include "server/rpc_server.h"

namespace hsm::server {

// The PKCS #11 RPCs; refused on the admin socket.
void RoutePkcs11(RpcServer& rpc, v1::Pkcs11::AsyncService& service, Pkcs11Service& pkcs11);

// The admin RPCs; served only on the admin socket (a unix socket whose file
// permissions say who may administer hsmd), refused on the network port.
void RouteAdmin(RpcServer& rpc, v1::Admin::AsyncService& service, AdminService& admin);

}  // namespace hsm::server

#endif  // HSM_SERVER_RPC_ROUTES_H_
