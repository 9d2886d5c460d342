#!/usr/bin/env bash
# Restart recovery benchmark: builds release binaries, then runs gas-restartbench, which seeds
# a state database with 100,000 finished tasks and 1,000 a crash left unfinished, and starts
# the real miner on fresh copies of it, timing how soon it listens and accepts a challenge
# and how soon the unfinished work is done. Extra arguments go to gas-restartbench.
set -euo pipefail
cd "$(dirname "$0")/.."
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$PWD/target}"
cargo build --release -q -p gas-miner -p gas-tests --bins
"$CARGO_TARGET_DIR/release/gas-restartbench" "$@"
