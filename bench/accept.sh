#!/usr/bin/env bash
# Accept-path benchmark: builds release binaries, then runs gas-loadgen against a real
# gas-miner on 127.0.0.1 (throughput, latency at a fixed rate, durability after kill -9).
# Extra arguments go to gas-loadgen (see `gas-loadgen --help`).
set -euo pipefail
cd "$(dirname "$0")/.."
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$PWD/target}"
cargo build --release -q -p gas-miner -p gas-tests --bins
"$CARGO_TARGET_DIR/release/gas-loadgen" "$@"
