#!/usr/bin/env bash
# Valid challenges during a flood of junk requests: builds release binaries, then runs
# gas-floodbench (3 runs of 30 s by default: 20 valid challenges/s, 8 junk senders), which
# reports the valid challenges' latency, the miner's log bytes per second and the webhooks.
# Extra arguments go to gas-floodbench.
set -euo pipefail
cd "$(dirname "$0")/.."
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$PWD/target}"
cargo build --release -q -p gas-miner -p gas-tests --bins
"$CARGO_TARGET_DIR/release/gas-floodbench" "$@"
