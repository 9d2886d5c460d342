#!/usr/bin/env bash
# Memory against history: builds release binaries, then runs gas-rssbench, which seeds the
# real miner's store with 0, 20,000, 50,000 and 100,000 finished tasks and reports its resident
# memory at each, after a start, after the console's reads and after a restart.
# Extra arguments go to gas-rssbench (`--cache-mb N` sets MINER_DB_CACHE_MB).
set -euo pipefail
cd "$(dirname "$0")/.."
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$PWD/target}"
cargo build --release -q -p gas-miner -p gas-tests --bins
"$CARGO_TARGET_DIR/release/gas-rssbench" "$@"
