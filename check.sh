#!/bin/sh
# Installs what w2s needs (Debian packages), builds it with autotools and
# runs every test: the cmocka unit tests, the MPI tests under mpirun and the
# end-to-end runs.  Prints the log of each failing test and a closing
# "N passed, N failed" line.  Usage: ./check.sh   (from the source folder)
set -eu
cd "$(dirname "$0")"
./install-deps.sh test
[ -x configure ] || ./autogen.sh
[ -f Makefile ] || ./configure --quiet
jobs=$(nproc 2>/dev/null || echo 2)
make -j"$jobs" >/dev/null
status=0
make -j"$jobs" check || status=$?

pass=0 failn=0 skip=0
for trs in $(find tests -name '*.trs' | sort); do
	result=$(sed -n 's/^:test-result: //p' "$trs" | head -n 1)
	log=${trs%.trs}.log
	case $result in
	PASS) pass=$((pass + 1)) ;;
	SKIP) skip=$((skip + 1)) ;;
	*)
		failn=$((failn + 1))
		echo "==== $log ($result)"
		cat "$log"
		;;
	esac
done
# cmocka's own counts, from the unit-test logs.
cases=$(cat tests/*.log 2>/dev/null | grep -c '^\[       OK \]' || true)
echo "cmocka: $cases test cases passed"
echo "$pass passed, $failn failed, $skip skipped"
[ "$status" -eq 0 ] && [ "$failn" -eq 0 ]
