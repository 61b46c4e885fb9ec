#!/usr/bin/env bash
# Two checkouts of this project never run each other's builds (issue [9]).
#
# A shared Cargo target directory once handed one clone the binaries another
# had built: Cargo judges freshness by mtime, so a clone whose sources are
# older than the other's build is not rebuilt. This makes exactly that
# situation: checkout A is copied first, checkout B later and changed, B is
# built, then A. Each builds through its own scripts/lib.sh, with this run's
# CARGO_TARGET_DIR (the outer checkout's) inherited, as CI's and a developer's
# second clone would. Each must print its own mark and its own paths.
# Prints "# pass 1" or "# fail 1" for scripts/test's count; exits 1 on failure.
set -uo pipefail
here="$(cd "$(dirname "$0")/.." && pwd)"
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT

copy_checkout() {
  mkdir -p "$1"
  (cd "$here" && git ls-files -z --cached --others --exclude-standard | tar --null -T - -cf -) | tar -xf - -C "$1"
}

# Runs the probe through the checkout's own build settings; prints what it says.
probe() {
  (cd "$1" && bash -c 'source scripts/lib.sh && ensure_rust_cache && cargo run --locked -q -p profile-link-checkout-probe; status=$?; stop_rust_cache; exit $status') 2>&1
}

fail() {
  echo "not ok - $*"
  echo "# fail 1"
  exit 1
}

copy_checkout "$work/a"
sleep 1 # B's files, and its build, are strictly newer than A's files
copy_checkout "$work/b"
sed -i 's/const MARK: &str = "as committed";/const MARK: \&str = "changed in b";/' "$work/b/tests/checkout-probe/src/main.rs"
grep -q 'changed in b' "$work/b/tests/checkout-probe/src/main.rs" || fail "could not change checkout b's probe"

# The outer run's target directory is inherited, as it would be from a shell profile.
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$here/target}"
b_says="$(probe "$work/b")" || fail "checkout b's probe did not build or run: $b_says"
a_says="$(probe "$work/a")" || fail "checkout a's probe did not build or run: $a_says"

expect() {
  local who="$1" says="$2" mark="$3" root="$4"
  local want
  for want in "mark=$mark" "built_in=$root/tests/checkout-probe" "run_in=$root/tests/checkout-probe"; do
    grep -qxF "$want" <<<"$says" || fail "checkout $who should say '$want' but said: $(tr '\n' ' ' <<<"$says")"
  done
}
expect a "$a_says" "as committed" "$work/a"
expect b "$b_says" "changed in b" "$work/b"
[[ -x "$work/a/target/debug/profile-link-checkout-probe" && -x "$work/b/target/debug/profile-link-checkout-probe" ]] ||
  fail "each checkout should hold its build in its own target/ (a: $(ls "$work/a/target/debug" 2>&1 | head -3), b: $(ls "$work/b/target/debug" 2>&1 | head -3))"
echo "ok - two checkouts, built one after the other with an inherited CARGO_TARGET_DIR, each ran its own code and read its own files"
echo "# pass 1"
