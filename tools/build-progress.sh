#!/usr/bin/env bash
# build-progress.sh OUT DIR PKG [GO BUILD FLAGS...]: builds PKG of the module in DIR
# into OUT, saying what it is doing while it does it. A cold build of a large
# program (the pinned Vault server: ~4 GB of modules, ~2,800 packages, about 21 min
# on two cores) is otherwise silent for many minutes after the downloads.
# Prints one line per 100 modules downloaded and per 100 packages compiled, with
# the elapsed time; the full log is kept in OUT.log and its tail shown on failure.
set -euo pipefail
out=$(realpath -m "$1") dir=$2 pkg=$3
shift 3
go=${GO:-go}
log="$out.log"
start=$SECONDS
cd "$dir"

say() { printf '%s [%dm%02ds] %s\n' "$(basename "$out")" $(((SECONDS - start) / 60)) $(((SECONDS - start) % 60)) "$*"; }

fail() {
  say "FAILED ($1); last lines of $log:"
  tail -n 30 "$log" >&2
  exit 1
}

say "downloading modules (a cold cache fetches about 4 GB)"
# -json prints one object per module: count them as they arrive.
"$go" mod download -json 2>>"$log" \
  | awk -v p="$(basename "$out")" '/"Path":/ {n++; if (n % 100 == 0) {printf "%s   %d modules ready\n", p, n; fflush()}}' \
  || fail "go mod download"

total=$("$go" list -deps "$pkg" 2>>"$log" | wc -l) || fail "go list"
say "compiling up to $total packages (only those not in Go's build cache; -v lists each)"
"$go" build -v "$@" -o "$out" "$pkg" 2>&1 | tee -a "$log" \
  | awk -v p="$(basename "$out")" -v total="$total" '
      /^[a-zA-Z0-9_.\/-]+$/ {n++; if (n % 100 == 0) {printf "%s   %d of up to %d packages compiled\n", p, n, total; fflush()}; next}
      {print; fflush()}' \
  || fail "go build"
say "built"
rm -f "$log"
