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

commands=$("$W2S" --help | sed -n 's/^  \([a-z][a-z]*\) .*/\1/p' | grep -v '^w2s$')
[ -n "$commands" ] || fail "no commands found in w2s --help"
for c in $commands; do
	grep -q "w2s $c" "$TMP/plain.txt" || fail "the man page does not show 'w2s $c'"
	"$W2S" "$c" --help | grep -o -- '--[a-z][a-z-]*' | sort -u | while read -r opt; do
		grep -q -- "$opt" "$TMP/plain.txt" || fail "option $opt of w2s $c is not in the man page"
	done
done
"$W2S" --help | sed -n '/^exit codes:/,$p' | grep -o '[0-9] [a-z]' | cut -c1 | while read -r code; do
	sed -n "/^EXIT STATUS/,/^ENVIRONMENT/p" "$TMP/plain.txt" | grep -qE "^ +$code( |\$)" ||
		fail "exit code $code is not under EXIT STATUS"
done
echo "manpage: ok ($(echo $commands | wc -w) commands)"
