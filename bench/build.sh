#!/usr/bin/env bash
# Clean release build: the README's `cargo build --release`, timed in a fresh target
# directory with the dependencies already downloaded (`cargo fetch` first, untimed). Run it
# on an otherwise idle machine. Prints the wall time, what was built, and the slowest units
# (from cargo's --timings report).
#
#   bench/build.sh            # this checkout
#   bench/build.sh REV        # an earlier commit, the same way, in a temporary worktree
set -euo pipefail
cd "$(dirname "$0")/.."
rev="${1:-}"
src=$PWD
if [ -n "$rev" ]; then
  src=$(mktemp -d)
  git worktree add -q --detach "$src" "$rev"
  trap 'git worktree remove --force "$src"' EXIT
fi
target=$(mktemp -d)
(cd "$src" && cargo fetch -q)
began=$(date +%s.%N)
(cd "$src" && CARGO_TARGET_DIR=$target cargo build --release --timings -q)
ended=$(date +%s.%N)
echo "clean cargo build --release of ${rev:-$(git rev-parse --short HEAD)}: $(python3 -c "print(round($ended - $began))") s on $(nproc) cores"
echo "binaries: $(cd "$target/release" && find . -maxdepth 1 -type f -executable -printf '%f ' | sort)"
report=$(ls "$target"/cargo-timings/cargo-timing-*.html | head -1)
python3 - "$report" <<'EOF'
import json, re, sys
text = open(sys.argv[1]).read()
units = json.loads(re.search(r"const UNIT_DATA = (\[.*?\]);", text, re.S).group(1))
units.sort(key=lambda u: -u["duration"])
print("slowest units (s):", ", ".join(f'{u["name"]} {u["duration"]:.0f}' for u in units[:8]))
print("units built:", len(units))
EOF
rm -rf "$target"
