#!/usr/bin/env bash
# Builds hsmd and the client library, then runs hsmd in development mode on
# 127.0.0.1:7700 with its data in ./hsm-data. Extra flags go to hsmd.
set -euo pipefail
cd "$(dirname "$0")/.."
bazel build //server:hsmd //client:libhsm_pkcs11.so
echo
echo "client library: $PWD/bazel-bin/client/libhsm_pkcs11.so"
echo "development token PINs: $PWD/hsm-data/dev-token.txt (written at the first start)"
echo
exec bazel-bin/server/hsmd --data_dir=hsm-data "$@"
