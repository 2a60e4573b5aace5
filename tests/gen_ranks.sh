#!/bin/sh
# `w2s gen` writes the same data.h5 bytes on 1, 2 and 3 ranks, for both
# tasks and for rows wide enough to be written in many blocks, and the file
# reads back in h5dump.
. "$(dirname "$0")/common.sh"
small_config "$TMP/latent.yaml"
cat >"$TMP/teacher.yaml" <<'YAML'
data:
  task: teacher
  rows: {weak_train: 301, transfer: 257, val: 99, test: 503}
  teacher: {dim: 10, width: 16, depth: 2, classes: 3, label_noise: 0.1}
YAML
# Wide rows: the rows are made and written a few MB at a time, so here a
# rank's share takes many blocks, the last one short.
cat >"$TMP/wide.yaml" <<'YAML'
data:
  rows: {weak_train: 301, transfer: 257, val: 99, test: 503}
  latent:
    signal: 2000
    nuisance: 2000
    label_noise: 0.1
    views:
      x: {z: all, u: all}
      weak: {z: 100, u: 100, noise: 1.5}
      strong: {z: all}
YAML
for task in latent teacher wide; do
	for n in 1 2 3; do
		mpi "$n" "$W2S" gen "$TMP/$task.yaml" --out "$TMP/$task-$n" --quiet ||
			fail "w2s gen $task on $n ranks"
	done
	cmp "$TMP/$task-1/data.h5" "$TMP/$task-2/data.h5" || fail "$task: 1 and 2 ranks differ"
	cmp "$TMP/$task-1/data.h5" "$TMP/$task-3/data.h5" || fail "$task: 1 and 3 ranks differ"
	h5dump -H "$TMP/$task-1/data.h5" >/dev/null || fail "$task: h5dump cannot read data.h5"
	echo "$task: data.h5 identical on 1, 2 and 3 ranks ($(wc -c <"$TMP/$task-1/data.h5") bytes)"
done
# A plain run without a launcher gives the same bytes too.
"$W2S" gen "$TMP/latent.yaml" --out "$TMP/single" --quiet || fail "w2s gen without mpirun"
cmp "$TMP/latent-1/data.h5" "$TMP/single/data.h5" || fail "singleton differs from mpirun -n 1"
"$PYTHON3" "$W2S_SRCDIR/tests/h5check.py" data "$TMP/latent-2/data.h5" || fail "h5py check of data.h5"
