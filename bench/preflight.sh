#!/usr/bin/env bash
# Pre-flight speed benchmark: builds release binaries, then runs gas-c2pabench, which signs a
# 20 MB MP4 and a 10 MB PNG with a test CA and compares C2PA verification with one SHA-256
# pass over the same bytes (target: at least 50 % of SHA-256's throughput).
# Extra arguments go to gas-c2pabench (see `gas-c2pabench --help`).
set -euo pipefail
cd "$(dirname "$0")/.."
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$PWD/target}"
cargo build --release -q -p gas-miner -p gas-tests --bins
"$CARGO_TARGET_DIR/release/gas-c2pabench" "$@"
