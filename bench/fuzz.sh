#!/usr/bin/env bash
# Long fuzz run: every target of the fuzz test binary, tests/tests/fuzz/ (Epistula headers, the
# challenge JSON, the admin protocol, wallet files, addresses and hex, the media pre-flight),
# with GAS_FUZZ_CASES generated inputs each (default 200,000: 30 to 40 minutes on 2 cores). It
# runs in the test profile on purpose, so that integer overflow panics instead of wrapping. A
# failure prints the smallest input and the GAS_FUZZ_SEED that replays it; keep that input in
# tests/fuzz/corpus/<target>/.
# Extra arguments go to the test harness, e.g. `bench/fuzz.sh fuzz_media` for one target.
set -euo pipefail
cd "$(dirname "$0")/.."
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$PWD/target}"
export GAS_FUZZ_CASES="${GAS_FUZZ_CASES:-200000}"
cargo test -p gas-tests --test fuzz -- --nocapture "$@"
