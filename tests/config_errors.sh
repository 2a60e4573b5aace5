#!/bin/sh
# Bad input through the program: every config in tests/configs/bad gives
# exit code 3 and one line that names the problem (the file's `# expect:`
# line), and bad command lines, missing files and unwritable folders give
# their own codes and messages.
. "$(dirname "$0")/common.sh"

# expect CODE SUBSTRING CMD...: CMD exits CODE and prints exactly one line
# on stderr that contains SUBSTRING.
expect() {
	want=$1 needle=$2
	shift 2
	set +e
	"$@" >"$TMP/out" 2>"$TMP/err"
	code=$?
	set -e
	[ "$code" -eq "$want" ] || fail "$*: exit $code, expected $want; stderr: $(cat "$TMP/err")"
	[ "$(grep -c "^w2s" "$TMP/err")" -eq 1 ] || fail "$*: expected one w2s line on stderr, got: $(cat "$TMP/err")"
	grep -qF -- "$needle" "$TMP/err" || fail "$*: '$needle' not in: $(cat "$TMP/err")"
}

n=0
for f in "$W2S_SRCDIR"/tests/configs/bad/*.yaml; do
	needle=$(sed -n 's/^# expect: //p' "$f" | head -n 1)
	[ -n "$needle" ] || fail "$f has no '# expect:' line"
	expect 3 "$needle" "$W2S" config "$f"
	n=$((n + 1))
done
echo "$n bad configs refused with their messages"

expect 2 "unknown command 'rnu'" "$W2S" rnu
expect 2 "unknown option '--frobnicate'" "$W2S" run --frobnicate
expect 2 "--out needs a value" "$W2S" run --out
expect 2 "takes one config file" "$W2S" run a.yaml b.yaml
expect 2 "--log-level 'loud'" "$W2S" run --log-level loud
expect 4 "No such file or directory" "$W2S" run "$TMP/missing.yaml" --out "$TMP/x"
expect 3 "train.lr" "$W2S" config --set train.lr=abc
expect 3 "expected KEY=VALUE" "$W2S" config --set train.lr
touch "$TMP/plainfile"
small_config "$TMP/small.yaml"
expect 4 "cannot create output folder" "$W2S" run "$TMP/small.yaml" --out "$TMP/plainfile/sub"
# Bad input under mpirun: one message, not one per rank, and every rank exits.
expect 3 "unknown key" mpi 2 "$W2S" run --set train.lrr=1 --out "$TMP/y"
# --help answers for every command.
for cmd in run gen config; do
	"$W2S" $cmd --help | grep -q "usage: w2s $cmd" || fail "w2s $cmd --help"
done
"$W2S" --help | grep -q "exit codes" || fail "w2s --help lacks the exit codes"
"$W2S" --version | grep -q "BLIS" || fail "w2s --version lacks the libraries"
echo "config_errors: ok"
