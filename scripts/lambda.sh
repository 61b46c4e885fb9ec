# Shared by scripts/build, scripts/deploy and scripts/smoke-arm64, after
# lib.sh: the Lambda architectures, the Rust targets they need and the zips
# cargo-lambda (pinned, in the project virtualenv) builds. Sourced, not run.

LAMBDA_FUNCTIONS=(login request-association redeem-link send-emails ses-events authorize token notify-portals)

# The Rust target of a Lambda architecture (template.yaml's Architecture parameter).
rust_target_of() {
  case "$1" in
    x86_64) echo x86_64-unknown-linux-gnu ;;
    arm64) echo aarch64-unknown-linux-gnu ;;
    *) die "unknown architecture '$1' (x86_64 or arm64)" ;;
  esac
}

# The Rust standard library for architecture $1, added with rustup when
# missing. Nothing else is needed to build: cargo-lambda links with zig
# (from PyPI), for either architecture.
ensure_rust_target() {
  local target
  target="$(rust_target_of "$1")"
  if rustup target list --installed 2>/dev/null | grep -qx "$target"; then
    return
  fi
  need rustup "rustup, to add the $target Rust target for $1"
  say "adding the $target Rust target (rustup target add)"
  rustup target add "$target" ||
    die "could not add the $target Rust target, which building for $1 needs: run 'rustup target add $target' (it downloads from static.rust-lang.org), or use the other architecture (ARCHES=... scripts/build, ARCHITECTURE=... scripts/deploy)"
}

# Builds every function for architecture $1 with Cargo profile $2 into
# $3/<function>/bootstrap.zip (what Lambda takes) and prints each zip's size.
build_lambda_zips() {
  local arch="$1" profile="$2" out="$3" f zip
  local bins=() flags=(--arm64)
  ensure_rust_target "$arch"
  [[ "$arch" == x86_64 ]] && flags=(--x86-64)
  if [[ "$profile" == release ]]; then flags+=(--release); else flags+=(--profile "$profile"); fi
  # Each function's own package, never the whole workspace: the operators'
  # crate turns on core's `operator` feature, which no function may have.
  for f in "${LAMBDA_FUNCTIONS[@]}"; do bins+=(--package "profile-link-$f" --bin "$f"); done
  say "building ${LAMBDA_FUNCTIONS[*]} for $arch ($profile)"
  # Checked explicitly: a caller testing this function's status turns set -e off inside it.
  (cd "$ROOT" && PATH="$VENV/bin:$PATH" cargo lambda build --locked "${flags[@]}" "${bins[@]}" \
    --output-format zip --lambda-dir "$out") || die "cargo lambda build failed for $arch ($profile)"
  for f in "${LAMBDA_FUNCTIONS[@]}"; do
    zip="$out/$f/bootstrap.zip"
    [[ -f "$zip" ]] || die "no $zip was produced"
    printf '  %-22s %-7s %8s KiB zipped\n' "$f" "$arch" "$(($(stat -c %s "$zip") / 1024))"
  done
}
