#!/usr/bin/env bash
# Runs every check of mzero: install, format, lint, the documentation site, Rust tests,
# Python tests.
# Creates (or reuses) the virtual environment $MZERO_VENV (default .venv).
set -euo pipefail
cd "$(dirname "$0")/.."

venv="${MZERO_VENV:-.venv}"
[ -x "$venv/bin/python" ] || python3 -m venv "$venv"
py="$venv/bin/python"

# Builds for checking, not for shipping: the extension without cross-crate LTO and the
# test binaries without debug info compile in less of the test command's time (the
# wheels and `pip install .` keep the release profile's thin LTO).
export CARGO_PROFILE_RELEASE_LTO="${CARGO_PROFILE_RELEASE_LTO:-false}"
export CARGO_PROFILE_DEV_DEBUG="${CARGO_PROFILE_DEV_DEBUG:-0}"
export CARGO_INCREMENTAL="${CARGO_INCREMENTAL:-0}"

echo "== install (editable, release build of the Rust engine)"
"$py" -m pip install --quiet -e '.[test]'

echo "== format and lint"
cargo fmt --all --check
cargo clippy --workspace --all-targets --locked -- -D warnings
"$py" -m ruff check python tests benches scripts docs/hooks.py docs/snippets
"$py" -m ruff format --check python tests benches scripts docs/hooks.py docs/snippets

echo "== documentation site"
NO_MKDOCS_2_WARNING=1 "$py" -m mkdocs build --strict --site-dir site

echo "== Rust tests, built and run beside the Python tests (output below them)"
# the Python tests leave about a quarter of two cores idle (Ray and subprocess waits):
# the Rust test build fills some of it
rust_log="$(mktemp)"
trap 'rm -f "$rust_log"' EXIT
cargo test -p mzero-core --locked >"$rust_log" 2>&1 &
rust_tests=$!

echo "== Python tests"
# two workers (MZERO_TEST_WORKERS); the learning guards start first, one worker each
# (tests/conftest.py), while the other tests share the rest of the time; the 15 slowest
# are listed at the end, to watch the command's 15-minute budget
python_status=0
"$py" -m pytest -n "${MZERO_TEST_WORKERS:-2}" --dist loadgroup --durations=15 "$@" || python_status=$?

echo "== Rust tests (output)"
rust_status=0
wait "$rust_tests" || rust_status=$?
cat "$rust_log"
if [ "$rust_status" -ne 0 ]; then
  echo "Rust tests failed (exit status $rust_status)"
  exit "$rust_status"
fi
exit "$python_status"
