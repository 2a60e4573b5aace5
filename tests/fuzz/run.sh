#!/bin/sh
# Runs the config parser's fuzz target (fuzz_config.c) for a bounded time
# and prints one summary line: inputs run, coverage, corpus, and whether
# anything crashed.  Exits 1 on a crash (a sanitizer finding, a broken
# promise of config.h, a timeout or running out of memory), after printing
# the report and the command that reproduces it.  What `make fuzz` runs.
#
# Usage: run.sh FUZZER SECONDS W2S SRCDIR WORKDIR
#   FUZZER   the fuzz_config program
#   W2S      a w2s program, for the names of every key (the dictionary)
#   WORKDIR  keeps the corpus between runs (WORKDIR/corpus) and gets the
#            log (WORKDIR/fuzz.log) and any crashing input (WORKDIR/crash-*)
#
# Seeds: every config of tests/configs/good, tests/configs/bad and
# jobs/configs, and a few --set overrides written here (an input is a
# file's text, then each override after a NUL byte).
set -eu
[ $# -eq 5 ] || { echo "usage: run.sh FUZZER SECONDS W2S SRCDIR WORKDIR" >&2; exit 2; }
fuzzer=$1 seconds=$2 w2s=$3 srcdir=$4 work=$5

mkdir -p "$work/corpus" "$work/seeds"
rm -f "$work"/crash-* "$work"/timeout-* "$work"/oom-* "$work"/leak-* "$work"/slow-unit-*

n=0
seed() {
	n=$((n + 1))
	printf "$1" >"$work/seeds/set-$n"
}
seed '\0train.lr=0.5'
seed '\0models.big.hidden=[512, 512]\0train.epochs=2'
seed 'data:\n  task: teacher\n\0data.teacher.depth=0'
seed '\0data.task=teacher\0models.big.view=x'
seed '\0w2s.strong=[big]\0models.big.train.lr=0.1'
seed '\0data.latent.views.extra={z: 3, u: 2}\0models.e={view: extra}'
seed 'models:\n  a: {view: strong}\n\0models.a.hidden=[4]\0w2s={weak: weak, strong: [a]}'
seed '\0data.rows.test=9223372036854775807'
seed '\0seed=18446744073709551615'
seed '\0train.lr'
seed '\0.train=1'
seed '\0train.lr=&a 1\0train.lr_min=*a'

# Every key (dotted parts) and enum value of the reference, as quoted words.
{
	cat "$srcdir/tests/fuzz/yaml.dict"
	"$w2s" config --keys | cut -c1-65 | tr -s ' .|' '\n\n\n' | grep -E '^[a-z_][a-z0-9_]*$' |
		sort -u | sed 's/.*/"&"/'
} >"$work/config.dict"

seeds="$srcdir/tests/configs/good $srcdir/tests/configs/bad $srcdir/jobs/configs $work/seeds"
nseeds=$(find $seeds -type f | wc -l)
before=$(find "$work/corpus" -type f | wc -l)

# -close_fd_mask=1: the program prints nothing on stdout worth the time.
set +e
"$fuzzer" -max_total_time="$seconds" -max_len=8192 -timeout=10 -rss_limit_mb=2048 \
	-print_final_stats=1 -close_fd_mask=1 -dict="$work/config.dict" \
	-artifact_prefix="$work/" "$work/corpus" $seeds >"$work/fuzz.log" 2>&1
code=$?
set -e

execs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$work/fuzz.log")
rate=$(sed -n 's/^stat::average_exec_per_sec: *//p' "$work/fuzz.log")
cov=$(grep -o 'cov: [0-9]*' "$work/fuzz.log" | tail -n 1 | cut -d' ' -f2)
ft=$(grep -o 'ft: [0-9]*' "$work/fuzz.log" | tail -n 1 | cut -d' ' -f2)
after=$(find "$work/corpus" -type f | wc -l)
artifact=$(ls "$work"/crash-* "$work"/timeout-* "$work"/oom-* "$work"/leak-* 2>/dev/null | head -n 1)

summary="fuzz_config: ${seconds} s, ${execs:-?} inputs (${rate:-?}/s), coverage ${cov:-?} edges, ${ft:-?} features, corpus $after (+$((after - before)); $nseeds seeds)"
if [ "$code" -ne 0 ] || [ -n "$artifact" ]; then
	grep -v -E '^#[0-9]+' "$work/fuzz.log" | tail -n 60
	echo "$summary"
	echo "fuzz_config: FAILED (exit $code): ${artifact:-no input saved}; reproduce with: $fuzzer ${artifact:-}"
	exit 1
fi
echo "$summary, no crash"
