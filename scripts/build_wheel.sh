#!/usr/bin/env bash
# Builds the wheel that CI builds (.github/workflows/wheels.yml): one abi3 wheel of
# mzero for this platform, every CPython >= 3.10, into DIST (default dist/).
#   scripts/build_wheel.sh [DIST]
# Then check it as CI does, in a fresh environment, from outside the source tree:
#   python -m venv /tmp/w && /tmp/w/bin/pip install DIST/mzero-*.whl
#   cd /tmp && /tmp/w/bin/python /path/to/mzero/scripts/smoke_test.py
set -euo pipefail
cd "$(dirname "$0")/.."
dist="${1:-dist}"
maturin="${MATURIN:-maturin}"
"$maturin" build --release --locked --out "$dist"
