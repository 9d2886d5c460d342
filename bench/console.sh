#!/usr/bin/env bash
# Console benchmark: builds release binaries, then runs gas-consolebench, which seeds a
# miner's store with 100,000 tasks, starts the real miner on it, opens the real gas-console
# in tmux (time to a dashboard with data) and times frames of every screen.
# Needs tmux. Extra arguments go to gas-consolebench (see `gas-consolebench --help`).
set -euo pipefail
cd "$(dirname "$0")/.."
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$PWD/target}"
cargo build --release -q -p gas-miner -p gas-console -p gas-tests --bins
"$CARGO_TARGET_DIR/release/gas-consolebench" "$@"
