#!/usr/bin/env bash
# Large-media memory benchmark: builds release binaries, then runs gas-membench, which makes a
# real gas-miner download 20 videos of 50 MB at once from a fake OpenRouter and deliver them to
# a fake validator, and reports the miner's peak resident memory (VmHWM). `--service vertex`:
# the videos come base64 inside Vertex AI's operation answers instead.
# Extra arguments go to gas-membench (see `gas-membench --help`).
set -euo pipefail
cd "$(dirname "$0")/.."
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$PWD/target}"
cargo build --release -q -p gas-miner -p gas-tests --bins
"$CARGO_TARGET_DIR/release/gas-membench" "$@"
