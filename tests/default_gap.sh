#!/bin/sh
# The built-in default experiment, on 2 ranks as in the README: a real gap
# between weak and ceiling (at least 5 points) and a strong student (the
# linear probe on the strong view) that beats its weak teacher.  The big
# network's student sees the weak model's noise and may copy it; that
# contrast is part of the experiment, so it is not asserted here.
. "$(dirname "$0")/common.sh"
mpi 2 "$W2S" run --out "$TMP/default" >"$TMP/default.log" 2>&1 ||
	{ cat "$TMP/default.log"; fail "default experiment"; }
tail -n 12 "$TMP/default.log"
"$PYTHON3" "$W2S_SRCDIR/tests/h5check.py" gap "$TMP/default" 0.05 strong || fail "default experiment's gap"
