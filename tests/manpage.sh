#!/bin/sh
# The man page renders without groff warnings, names where files were
# installed, and keeps up with the program: every command of `w2s --help`,
# every option of every command's --help and every exit code is in it.
. "$(dirname "$0")/common.sh"
page="${W2S_BUILDDIR:-$(dirname "$W2S")}/doc/w2s.1"
[ -s "$page" ] || fail "no $page (make builds it from doc/w2s.1.in)"
command -v groff >/dev/null || { echo "groff not installed: man page not rendered"; exit 77; }
! grep -n "@[a-z]*@" "$page" || fail "placeholders left in $page"
LC_ALL=C groff -man -Tascii -ww "$page" >"$TMP/page.txt" 2>"$TMP/groff.err" || fail "groff failed: $(cat "$TMP/groff.err")"
[ ! -s "$TMP/groff.err" ] || fail "groff warns: $(cat "$TMP/groff.err")"
# groff -Tascii overstrikes bold and underlined text; keep the letters.
sed 's/.\x08//g' "$TMP/page.txt" >"$TMP/plain.txt"

"$W2S" --help >"$TMP/help.txt" || fail "w2s --help"
commands=$(sed -n 's/^  \([a-z][a-z]*\) .*/\1/p' "$TMP/help.txt" | grep -v '^w2s$')
[ -n "$commands" ] || fail "no commands found in w2s --help"
# Side by side: each start of w2s mostly waits on MPI start-up.
for c in $commands; do
	"$W2S" "$c" --help >"$TMP/help-$c.txt" &
done
wait
for c in $commands; do
	grep -q "usage: w2s $c" "$TMP/help-$c.txt" || fail "w2s $c --help printed no usage line"
	grep -q "w2s $c" "$TMP/plain.txt" || fail "the man page does not show 'w2s $c'"
	for opt in $(grep -o -- '--[a-z][a-z-]*' "$TMP/help-$c.txt" | sort -u); do
		grep -q -- "$opt" "$TMP/plain.txt" || fail "option $opt of w2s $c is not in the man page"
	done
done
# "exit codes: 0 done, 2 bad ..., 8 stopped by SIGUSR1 ...": a digit after a
# space or comma, before a word.
for code in $(sed -n '/^exit codes:/,$p' "$TMP/help.txt" | grep -oE '(^|[ ,])[0-9] [a-z]' | tr -dc '0-9\n'); do
	sed -n "/^EXIT STATUS/,/^ENVIRONMENT/p" "$TMP/plain.txt" | grep -qE "^ +$code( |\$)" ||
		fail "exit code $code is not under EXIT STATUS"
done
echo "manpage: ok ($(echo $commands | wc -w) commands)"
