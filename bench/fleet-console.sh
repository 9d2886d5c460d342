#!/usr/bin/env bash
# Fleet console benchmark: builds release binaries, then runs gas-fleetbench, which seeds 10
# miners' stores with 10,000 tasks each, starts the 10 real miners, opens the real gas-console
# on their sockets in tmux (time to a fleet screen with all answering) and times frames of the
# fleet screen and of one miner's dashboard. Needs tmux. Extra arguments go to gas-fleetbench
# (see `gas-fleetbench --help`).
set -euo pipefail
cd "$(dirname "$0")/.."
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$PWD/target}"
cargo build --release -q -p gas-miner -p gas-console -p gas-tests --bins
"$CARGO_TARGET_DIR/release/gas-fleetbench" "$@"
