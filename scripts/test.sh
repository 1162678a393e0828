#!/usr/bin/env bash
# Runs every check and every test, on SQLite and on PostgreSQL.
#
#   ./scripts/test.sh            # what CI runs
#
# Installs Debian's chromium and chromium-driver if missing (the web UI's browser tests).
# Starts a throwaway PostgreSQL cluster on 127.0.0.1 (installing Debian's server
# packages if needed), exports TRIBUTARY_TEST_PG for the PostgreSQL half of the suite,
# and stops the cluster on exit. If PostgreSQL cannot start, this fails: the
# PostgreSQL backend is never skipped.
set -euo pipefail
cd "$(dirname "$0")/.."

step() { printf '\n==> %s\n' "$*"; }

if ! cargo fmt --version >/dev/null 2>&1 || ! cargo clippy --version >/dev/null 2>&1; then
    step "installing rustfmt and clippy"
    rustup component add rustfmt clippy
fi

# A fresh clone's test build needs a few GiB; say so up front rather than die in the
# linker. CI builds once, so incremental state would only take disk.
step "disk: $(df -h . | awk 'NR==2 {print $4 " free on " $6}')"
if [ -n "${CI:-}" ]; then export CARGO_INCREMENTAL=0; fi

step "starting a throwaway PostgreSQL"
pgdir=$(mktemp -d /tmp/tributary-pg.XXXXXX)
trap 'scripts/pg.sh stop "$pgdir"' EXIT
TRIBUTARY_TEST_PG=$(scripts/pg.sh start "$pgdir")
export TRIBUTARY_TEST_PG
echo "TRIBUTARY_TEST_PG=$TRIBUTARY_TEST_PG"

# The web UI's browser tests drive a real headless Chromium through chromedriver.
if ! command -v chromium >/dev/null 2>&1 || ! command -v chromedriver >/dev/null 2>&1; then
    step "installing Chromium and chromedriver (Debian packages) for the browser tests"
    sudo=""
    if [ "$(id -u)" -ne 0 ]; then sudo=sudo; fi
    $sudo apt-get update -qq
    DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq chromium chromium-driver >/dev/null
fi
chromium --version
chromedriver --version

step "cargo fmt --check"
cargo fmt --all --check

step "cargo clippy --all-targets -- -D warnings"
cargo clippy --workspace --all-targets --locked -- -D warnings

step "tests (SQLite and PostgreSQL)"
if cargo nextest --version >/dev/null 2>&1; then
    cargo nextest run --workspace --locked --no-fail-fast
else
    cargo test --workspace --locked --no-fail-fast
fi

step "doc tests"
cargo test --workspace --locked --doc

step "browser screenshots: $(ls target/screenshots/*/*.png 2>/dev/null | wc -l) in target/screenshots/"
step "disk after the build: $(du -sh target 2>/dev/null | cut -f1) in target/, $(df -h . | awk 'NR==2 {print $4}') free"
step "all checks passed"
