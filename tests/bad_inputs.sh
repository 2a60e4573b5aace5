#!/bin/sh
# Bad input beyond the config corpus: config paths that are a folder, a
# binary or an HDF5 file; sizes whose products overflow; files of a run
# being resumed, or given to `w2s inspect` and `w2s import`, that are
# truncated, of the wrong kind or a folder; an --out that is read-only or
# on a full file system.  Each must end with its exit
# code and exactly one "w2s:" line on stderr, and never crash (killed by a
# signal, exit 134 or 139, "internal error", a sanitizer's error report).
#
# The file-system cases mount small tmpfs file systems (root only); where
# mounting is refused they are skipped with the reason.
. "$(dirname "$0")/common.sh"

mounts=""
cleanup() {
	for m in $mounts; do
		umount "$m" 2>/dev/null || umount -l "$m" 2>/dev/null || true
	done
	rm -rf "$TMP"
}
# Whatever ends the script, a failure or a signal, the mounts go.
trap cleanup EXIT
trap 'exit 129' HUP
trap 'exit 130' INT
trap 'exit 143' TERM

ncase=0

# run_case CMD...: runs CMD; sets code, and err to its stderr.
run_case() {
	ncase=$((ncase + 1))
	set +e
	"$@" >"$TMP/out" 2>"$TMP/err"
	code=$?
	set -e
	nmsg=$(grep -c '^w2s' "$TMP/err" || true)
}

# crashed: whether the last case crashed (or hung: bounded's 124) rather
# than failed.
crashed() {
	[ "$code" -ge 124 ] || [ "$code" -eq 70 ] ||
		grep -q -E 'internal error|ERROR: [A-Za-z]*Sanitizer|runtime error:|exited on signal|Segmentation fault|Process received signal' "$TMP/err"
}

# check CODE NEEDLE CMD...: CMD exits CODE, prints exactly one "w2s:" line
# on stderr, and that line contains NEEDLE.
check() {
	want=$1 needle=$2
	shift 2
	run_case "$@"
	! crashed || fail "$*: crashed (exit $code): $(cat "$TMP/err")"
	[ "$code" -eq "$want" ] || fail "$*: exit $code, expected $want: $(cat "$TMP/err")"
	[ "$nmsg" -eq 1 ] || fail "$*: $nmsg w2s lines on stderr, expected one: $(cat "$TMP/err")"
	grep -q '^w2s' "$TMP/err" && grep '^w2s' "$TMP/err" | grep -qF -- "$needle" ||
		fail "$*: '$needle' not in: $(cat "$TMP/err")"
}

# bounded SECONDS CMD...: CMD (a program, not a shell function), killed
# with its children after SECONDS (exit 124 then, and a line on stderr).
bounded() {
	limit=$1
	shift
	"$@" &
	job=$!
	waited=0
	while kill -0 "$job" 2>/dev/null && [ "$waited" -lt "$((limit * 10))" ]; do
		sleep 0.1
		waited=$((waited + 1))
	done
	if kill -0 "$job" 2>/dev/null; then
		# mpirun puts each rank in a process group of its own: kill them
		# by parent, then mpirun.
		pkill -KILL -P "$job" 2>/dev/null || true
		kill -KILL "$job" 2>/dev/null || true
		wait "$job" 2>/dev/null || true
		echo "bounded: still running after $limit s; killed" >&2
		return 124
	fi
	wait "$job"
}

# readable FILE...: each is an HDF5 file that h5py opens and walks.
readable() {
	"$PYTHON3" - "$@" <<'PY' || fail "earlier results are no longer readable: $*"
import sys, h5py
for p in sys.argv[1:]:
    with h5py.File(p, "r") as f:
        f.visit(lambda n: None)
PY
}

# same_results A B: two run.h5 files hold the same parameters and labels.
same_results() {
	"$PYTHON3" - "$1" "$2" <<'PY' || fail "$1 and $2 differ"
import sys, h5py, numpy as np
a, b = (h5py.File(p, "r") for p in sys.argv[1:])
for g in ("models", "labels"):
    names = []
    a[g].visit(lambda n: names.append(n) if isinstance(a[g][n], h5py.Dataset) else None)
    assert names, g
    for n in names:
        assert np.array_equal(a[g][n][()], b[g][n][()]), f"{g}/{n}"
PY
}

small_config "$TMP/small.yaml"
printf 'checkpoint: {every: 10, keep: 3}\n' >>"$TMP/small.yaml"
cfg=$TMP/small.yaml

# ---- the config path
mkdir "$TMP/folder.yaml"
check 4 "Is a directory" "$W2S" config "$TMP/folder.yaml"
head -c 4096 "$W2S" >"$TMP/binary.yaml"
check 3 "YAML syntax error" "$W2S" config "$TMP/binary.yaml"
printf 'seed: 1\n\000\001\002\n' >"$TMP/nul.yaml"
check 3 "nul.yaml:2: YAML syntax error" "$W2S" config "$TMP/nul.yaml"
ln -s loop1.yaml "$TMP/loop2.yaml"
ln -s loop2.yaml "$TMP/loop1.yaml"
check 4 "Too many levels of symbolic links" "$W2S" config "$TMP/loop1.yaml"
truncate -s 17M "$TMP/huge.yaml"
check 4 "larger than 16 MiB" "$W2S" config "$TMP/huge.yaml"

# A reference run: its files are the HDF5 files of the cases below.
"$W2S" run "$cfg" --out "$TMP/ref" --quiet || fail "the reference run"
check 3 "YAML syntax error" "$W2S" config "$TMP/ref/data.h5"
check 3 "YAML syntax error" "$W2S" run "$TMP/ref/run.h5" --out "$TMP/h5cfg"

# ---- sizes whose sums and products overflow
check 3 "add up past 2^63" "$W2S" config --set data.rows.test=9223372036854775807
check 3 "add up past 2^63" "$W2S" config --set data.rows.val=4611686018427387904 \
	--set data.rows.test=4611686018427387904
check 3 "data too large" "$W2S" config "$cfg" --set data.rows.test=1000000000000
check 3 "seed: expected an integer" "$W2S" config --set seed=18446744073709551616
check 3 "expected a list of integers" "$W2S" config --set 'models.big.hidden=[9223372036854775807]'
# Rows are made a block at a time: the disk, not memory, bounds the data
# (here some 40 TB).
check 4 "No space left on device: the data take" "$W2S" gen "$cfg" --out "$TMP/wide" --quiet --set data.rows.test=200000 \
	--set data.latent.signal=16777216 --set data.latent.nuisance=16777216
check 6 "too large for memory" "$W2S" run "$cfg" --out "$TMP/deep" --quiet \
	--set 'models.mlp.hidden=[16777216, 16777216, 16777216]'
check 6 "more than memory holds; raise log.every" \
	"$W2S" run "$cfg" --out "$TMP/epochs" --quiet --set train.epochs=9223372036854775807
check 6 "more than memory holds; raise log.every" \
	"$W2S" run "$cfg" --out "$TMP/steps" --quiet --set train.epochs=100000000 --set log.every=1
check 3 "has more weights than memory holds" \
	"$W2S" gen --out "$TMP/teacher" --quiet --set data.task=teacher \
	--set data.teacher.width=16777216

# ---- files of a run being resumed (copies of the reference run, less run.h5)
interrupted() {
	rm -rf "$1"
	cp -r "$TMP/ref" "$1"
	rm "$1/run.h5"
}
resume() {
	"$W2S" run "$cfg" --out "$1" --resume --quiet
}
interrupted "$TMP/r"
cp "$TMP/ref/run.h5" "$TMP/r/data.h5"
check 4 "has no dataset '/views/" resume "$TMP/r"
interrupted "$TMP/r"
cp "$(ls "$TMP/ref/ckpt/"*.h5 | head -n 1)" "$TMP/r/data.h5"
check 4 "has no dataset '/views/" resume "$TMP/r"
interrupted "$TMP/r"
"$PYTHON3" - "$TMP/r/data.h5" <<'PY'
import sys, h5py
with h5py.File(sys.argv[1], "r+") as f:
    x = f["views/x"][()]
    del f["views/x"]
    f["views/x"] = x[:, :5]
PY
check 4 "dataset '/views/x' is (2600, 5), expected 16 columns" resume "$TMP/r"
interrupted "$TMP/r"
rm "$TMP/r/metrics.h5"
mkdir "$TMP/r/metrics.h5"
check 4 "Is a directory" resume "$TMP/r"
interrupted "$TMP/r"
mkdir "$TMP/r/run.h5.tmp"
check 4 "cannot create" resume "$TMP/r"
interrupted "$TMP/r"
rm -r "$TMP/r/ckpt"
touch "$TMP/r/ckpt"
check 4 "ckpt" resume "$TMP/r"
interrupted "$TMP/r"
head -c 5000 "$TMP/ref/data.h5" >"$TMP/r/data.h5"
check 0 "cannot open '$TMP/r/data.h5': truncated file" resume "$TMP/r"
grep -q "making it again" "$TMP/err" || fail "a damaged data.h5: not made again: $(cat "$TMP/err")"
cmp -s "$TMP/r/data.h5" "$TMP/ref/data.h5" || fail "a damaged data.h5 made again differs"
interrupted "$TMP/r"
rm "$TMP/r/data.h5"
mkdir "$TMP/r/data.h5"
check 4 "is not a file; remove it" resume "$TMP/r"
interrupted "$TMP/r"
nckpt=0
for f in "$TMP/r/ckpt/"weak.*.h5; do
	head -c 3000 "$f" >"$f.cut" && mv "$f.cut" "$f"
	nckpt=$((nckpt + 1))
done
# One warning per damaged checkpoint, the oldest saying what follows; the
# model trains again from the start and the run ends as the first did.
run_case resume "$TMP/r"
! crashed && [ "$code" -eq 0 ] || fail "every checkpoint damaged: exit $code: $(cat "$TMP/err")"
[ "$(grep -c '^w2s: warning: ' "$TMP/err")" -eq "$nckpt" ] && [ "$nmsg" -eq "$nckpt" ] ||
	fail "every checkpoint damaged: expected $nckpt warnings: $(cat "$TMP/err")"
grep -q "no older checkpoint, so the model trains from the start" "$TMP/err" ||
	fail "every checkpoint damaged: no word of training from the start: $(cat "$TMP/err")"
same_results "$TMP/r/run.h5" "$TMP/ref/run.h5"
interrupted "$TMP/r"
cp "$TMP/ref/data.h5" "$TMP/r/config.yaml"
check 3 "cannot resume the run, its config is damaged: $TMP/r/config.yaml:1: YAML syntax error" \
	resume "$TMP/r"
interrupted "$TMP/r"
rm "$TMP/r/config.yaml"
mkdir "$TMP/r/config.yaml"
check 4 "its config is damaged: cannot read config '$TMP/r/config.yaml': Is a directory" \
	resume "$TMP/r"
# Under mpirun: one message for all ranks.
interrupted "$TMP/r"
cp "$TMP/ref/run.h5" "$TMP/r/data.h5"
check 4 "has no dataset '/views/" mpi 2 "$W2S" run "$cfg" --out "$TMP/r" --resume --quiet

# ---- files that `w2s inspect` and `w2s import` read
head -c 5000 "$TMP/ref/data.h5" >"$TMP/cut.h5"
check 4 "is truncated" "$W2S" inspect "$TMP/cut.h5"
check 4 "is not an HDF5 file" "$W2S" inspect "$cfg"
check 4 "is a folder" "$W2S" inspect "$TMP/folder.yaml"
mkdir "$TMP/imp"
"$PYTHON3" - "$TMP/imp" <<'EOF'
import sys, struct, numpy as np
d = sys.argv[1]
np.save(f"{d}/x.npy", np.zeros((100, 4), dtype="<f4"))
np.save(f"{d}/y.npy", (np.arange(100) % 2).astype("<i4"))
open(f"{d}/cut.npy", "wb").write(open(f"{d}/x.npy", "rb").read()[:200])
def npy(name, header):
    h = header.encode()
    h += b" " * (64 - (10 + len(h) + 1) % 64) + b"\n"
    open(f"{d}/{name}", "wb").write(b"\x93NUMPY\x01\x00" + struct.pack("<H", len(h)) + h + bytes(64))
npy("huge.npy", "{'descr': '<f4', 'fortran_order': False, 'shape': (4611686018427387904, 4611686018427387904), }")
npy("long.npy", "{'descr': '<f8', 'fortran_order': False, 'shape': (9223372036854775807, 3), }")
open(f"{d}/ragged.csv", "w").write("a,b\n1,2\n3\n")
open(f"{d}/far.txt", "w").write("0\n1\n5000000000\n")
for i, s in enumerate(("transfer", "val", "test")):
    open(f"{d}/{s}.txt", "w").write("".join(f"{10 * (i + 1) + k}\n" for k in range(10)))
EOF
import_view() {
	src=$1
	shift
	"$W2S" import --view "a=$src" --labels "$TMP/imp/y.npy" --out "$TMP/imp/out" --force "$@"
}
fractions="--split weak_train=0.25 --split transfer=0.25 --split val=0.25 --split test=0.25"
check 3 "is truncated" import_view "$TMP/imp/cut.npy" $fractions
check 3 "4611686018427387904 x 4611686018427387904" import_view "$TMP/imp/huge.npy" $fractions
check 3 "9223372036854775807 x 3" import_view "$TMP/imp/long.npy" $fractions
cp "$TMP/binary.yaml" "$TMP/imp/binary.npy"
check 3 "is not a NumPy .npy file" import_view "$TMP/imp/binary.npy" $fractions
check 3 "ragged.csv:3" import_view "$TMP/imp/ragged.csv" $fractions
check 4 "is truncated" import_view "$TMP/cut.h5:/views/x" $fractions
check 3 "row index 5000000000 is out of range" import_view "$TMP/imp/x.npy" \
	--split "weak_train=$TMP/imp/far.txt" --split "transfer=$TMP/imp/transfer.txt" \
	--split "val=$TMP/imp/val.txt" --split "test=$TMP/imp/test.txt"

# ---- output folders that cannot be written
touch "$TMP/plain"
check 4 "Not a directory" "$W2S" run "$cfg" --out "$TMP/plain" --quiet
check 4 "cannot create output folder" "$W2S" gen "$cfg" --out "$TMP/plain/sub" --quiet

# mount_tmpfs DIR OPTIONS: a tmpfs at DIR, or 1 with the reason printed.
mount_tmpfs() {
	mkdir -p "$1"
	if ! mount -t tmpfs -o "$2" tmpfs "$1" 2>"$TMP/mount.err"; then
		echo "SKIP: the read-only and full file system cases: mount -t tmpfs -o $2 refused: $(cat "$TMP/mount.err")"
		return 1
	fi
	mounts="$1 $mounts"
}

if mount_tmpfs "$TMP/ro" "ro,size=64k"; then
	check 4 "Read-only file system" "$W2S" run "$cfg" --out "$TMP/ro/x" --quiet
	check 4 "Read-only file system" mpi 2 "$W2S" run "$cfg" --out "$TMP/ro/x" --quiet
	# Earlier results in a folder that became read-only stay as they were.
	mount_tmpfs "$TMP/was" "size=2m"
	cp -r "$TMP/ref" "$TMP/was/r"
	mount -o remount,ro "$TMP/was"
	check 4 "Read-only file system" "$W2S" run "$cfg" --out "$TMP/was/r" --force --quiet
	check 4 "Read-only file system" "$W2S" run "$cfg" --out "$TMP/was/r" --resume --quiet
	readable "$TMP/was/r/data.h5" "$TMP/was/r/run.h5" "$TMP/was/r/metrics.h5"

	# A full file system: nothing fits.
	mount_tmpfs "$TMP/full" "size=300k"
	dd if=/dev/zero of="$TMP/full/filler" bs=4k 2>/dev/null || true
	check 4 "No space left on device" "$W2S" run "$cfg" --out "$TMP/full/x" --quiet
	check 4 "No space left on device" mpi 2 "$W2S" run "$cfg" --out "$TMP/full/x" --quiet

	# Earlier results, then a run with --force that does not fit beside
	# them: it fails while writing data.h5.tmp, which goes, and the
	# earlier data.h5 and run.h5 stay readable.  On 2 ranks too, where a
	# rank that failed a write must not leave the other waiting in HDF5.
	mount_tmpfs "$TMP/part" "size=1200k"
	"$W2S" run "$cfg" --out "$TMP/part/r" --quiet || fail "the first run on the small file system"
	check 4 "No space left on device" \
		"$W2S" run "$cfg" --out "$TMP/part/r" --force --quiet --set data.rows.test=30000
	readable "$TMP/part/r/data.h5" "$TMP/part/r/run.h5"
	check 4 "No space left on device" \
		bounded 60 "$MPIRUN" -n 2 --bind-to none "$W2S" run "$cfg" --out "$TMP/part/r" --force \
		--quiet --set data.rows.test=30000
	readable "$TMP/part/r/data.h5" "$TMP/part/r/run.h5"
	[ -z "$(ls "$TMP/part/r" | grep '\.tmp$')" ] || fail "a failed write left a .tmp file: $(ls "$TMP/part/r")"
	! grep -q "test: 30000" "$TMP/part/r/config.yaml" ||
		fail "the failed --force run left its config.yaml beside the earlier results"

	# The disk fills during training, at a checkpoint: one message, the
	# checkpoints written so far stay, and once there is room --resume
	# finishes the run as an uninterrupted one would have.
	mount_tmpfs "$TMP/mid" "size=1200k"
	wide="--set models.mlp.hidden=[4096] --set checkpoint.every=5"
	check 4 "No space left on device" \
		bounded 120 "$MPIRUN" -n 2 --bind-to none "$W2S" run "$cfg" --out "$TMP/mid/r" --quiet $wide
	grep -q "ckpt/" "$TMP/err" || fail "the disk filled, but not at a checkpoint: $(cat "$TMP/err")"
	readable "$TMP/mid/r/data.h5" "$TMP/mid/r/ckpt/"*.h5
	mount -o remount,size=16m "$TMP/mid"
	"$MPIRUN" -n 2 --bind-to none "$W2S" run "$cfg" --out "$TMP/mid/r" --quiet --resume $wide ||
		fail "--resume after the disk had room again"
	"$MPIRUN" -n 2 --bind-to none "$W2S" run "$cfg" --out "$TMP/whole" --quiet $wide ||
		fail "the uninterrupted run"
	same_results "$TMP/mid/r/run.h5" "$TMP/whole/run.h5"
fi

echo "bad_inputs: ok ($ncase cases)"
