#!/bin/sh
# The analysis scripts' own tests (analysis/tests, pytest): report.py and
# w2sio.py on a small real run made by $W2S, and every code block of
# doc/outputs.md.  pytest's exit 5 (no tests collected) is a failure here:
# a suite that silently ran nothing would pass otherwise.
. "$(dirname "$0")/common.sh"
"$PYTHON3" -c "import pytest, h5py, numpy, matplotlib, pandas, xarray, h5netcdf" 2>"$TMP/import.err" ||
	fail "the analysis tests need Debian's python3-pytest, -h5py, -numpy, -matplotlib, -pandas, -xarray and -h5netcdf (./install-deps.sh test): $(tail -n 1 "$TMP/import.err")"
export W2S W2S_SRCDIR
# Nothing is written into the source tree (it is read-only under distcheck).
export PYTHONDONTWRITEBYTECODE=1
set +e
"$PYTHON3" -m pytest -q -p no:cacheprovider --basetemp="$TMP/pytest" "$W2S_SRCDIR/analysis/tests"
code=$?
set -e
[ "$code" -ne 5 ] || fail "pytest collected no tests under $W2S_SRCDIR/analysis/tests"
[ "$code" -eq 0 ] || fail "pytest exited $code"
echo "analysis: ok"
