#!/usr/bin/env bash
# Crash soak: builds the binaries, then runs gas-soak, which SIGKILLs the real miner at random
# moments while it works and checks that every accepted challenge still ends in exactly one
# outcome and a webhook. `bench/soak.sh --long` is the manual mode (2,000 challenges, 150
# kills); other arguments go to gas-soak (see `gas-soak --help`), e.g. `--seed N` to repeat.
set -euo pipefail
cd "$(dirname "$0")/.."
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$PWD/target}"
cargo build --release -q -p gas-miner -p gas-tests --bins
"$CARGO_TARGET_DIR/release/gas-soak" "$@"
