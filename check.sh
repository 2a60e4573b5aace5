#!/bin/sh
# Installs what w2s needs (Debian packages), builds it with autotools and
# runs every test: the cmocka unit tests, the MPI tests under mpirun and the
# end-to-end runs.  Then fuzzes the config parser for a minute (make fuzz),
# and runs every test again in a second build with AddressSanitizer and
# UBSan: build-san/w2s, a copy of the sources configured with
# --enable-sanitizers (a copy, as automake builds no second tree beside a
# source folder that is itself configured).  Prints the log of each
# failing test and one summary line per part, the first of them
# "N passed, N failed, N skipped".  Usage: ./check.sh   (from the source folder)
#
#   W2S_FUZZ_SECONDS=N      fuzz for N seconds (default 60; 0: not at all)
#   W2S_CHECK_SANITIZERS=0  no sanitizer build
set -eu
cd "$(dirname "$0")"
fuzz_seconds=${W2S_FUZZ_SECONDS:-60}
sanitizers=${W2S_CHECK_SANITIZERS:-1}
./install-deps.sh test
[ -x configure ] || ./autogen.sh
[ -f Makefile ] || ./configure --quiet
jobs=$(nproc 2>/dev/null || echo 2)

# report DIR LABEL: the log of each failing test in DIR, then one line
# "LABEL: N passed, N failed, N skipped"; returns 1 if any failed.
report() {
	pass=0 failn=0 skip=0
	for trs in $(cd "$1" && find tests -name '*.trs' | sort); do
		result=$(sed -n 's/^:test-result: //p' "$1/$trs" | head -n 1)
		log=$1/${trs%.trs}.log
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
	echo "$2$pass passed, $failn failed, $skip skipped"
	[ "$failn" -eq 0 ]
}

status=0
start=$(date +%s)
make -j"$jobs" >/dev/null
make -j"$jobs" check || status=1
# cmocka's own counts, from the unit-test logs.
cases=$(cat tests/*.log 2>/dev/null | grep -c '^\[       OK \]' || true)
echo "cmocka: $cases test cases passed"
report . "" || status=1
summary="tests: $(($(date +%s) - start)) s"

if [ "$fuzz_seconds" -gt 0 ]; then
	start=$(date +%s)
	out=$(mktemp)
	make fuzz FUZZ_SECONDS="$fuzz_seconds" >"$out" 2>&1 || { cat "$out"; status=1; }
	line=$(grep '^fuzz_config: ' "$out" | tail -n 1)
	echo "${line:-fuzz_config: did not run (see above)}"
	rm -f "$out"
	summary="$summary; fuzz: $(($(date +%s) - start)) s"
fi

if [ "$sanitizers" != 0 ]; then
	start=$(date +%s)
	san=build-san/w2s
	mkdir -p "$san"
	echo '*' >build-san/.gitignore
	# The sources as they are now, committed or not (tar keeps their times,
	# so a second run rebuilds only what changed).
	if git rev-parse --is-inside-work-tree >/dev/null 2>&1; then
		git ls-files -z --cached --others --exclude-standard |
			tar --null -T - --ignore-failed-read -cf - 2>/dev/null | tar -C "$san" -xf -
	else
		make distdir distdir="$san" >/dev/null
	fi
	if (
		cd "$san"
		[ -x configure ] || ./autogen.sh >/dev/null 2>&1
		[ -f Makefile ] || ./configure --quiet --enable-sanitizers
		make -j"$jobs" >/dev/null
	); then
		find "$san/tests" -name '*.trs' -exec rm -f {} +
		(cd "$san" && make -j"$jobs" check >/dev/null 2>&1) || true
		report "$san" "sanitizers (ASan, UBSan): " || status=1
	else
		echo "sanitizers (ASan, UBSan): the build in $san failed"
		status=1
	fi
	summary="$summary; sanitizer tests: $(($(date +%s) - start)) s"
fi
echo "$summary"
exit "$status"
