"""C++ code from a .proto with Debian's protoc and grpc_cpp_plugin.

Bazel 4's native proto rules need protobuf's sources, which cannot be fetched
here; a genrule running the system compiler does the same job."""

def cc_proto(name, src, grpc = False, deps = [], visibility = None):
    """Makes cc_library `name` from `src` (a path inside this package).

    Args:
      name: the cc_library's name.
      src: the .proto file, relative to the package.
      grpc: also generate the gRPC service stubs.
      deps: cc_proto targets whose .proto files `src` imports.
      visibility: the cc_library's visibility.
    """
    base = src[:-len(".proto")]
    outs = [base + ".pb.h", base + ".pb.cc"]
    cmd = "/usr/bin/protoc -I. --cpp_out=$(GENDIR) "
    if grpc:
        outs += [base + ".grpc.pb.h", base + ".grpc.pb.cc"]
        cmd += "--grpc_out=$(GENDIR) --plugin=protoc-gen-grpc=/usr/bin/grpc_cpp_plugin "
    native.genrule(
        name = name + "_gen",
        srcs = [src] + [d + "_srcs" for d in deps],
        outs = outs,
        cmd = cmd + "$(location " + src + ")",
    )
    native.filegroup(
        name = name + "_srcs",
        srcs = [src],
        visibility = visibility,
    )
    native.cc_library(
        name = name,
        srcs = [o for o in outs if o.endswith(".cc")],
        hdrs = [o for o in outs if o.endswith(".h")],
        copts = ["-Wno-unused-parameter", "-w"],
        deps = deps + ["@system//:grpc" if grpc else "@system//:protobuf"],
        visibility = visibility,
    )
