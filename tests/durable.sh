#!/bin/sh
# Every file w2s gives its name when whole (config.yaml, data.h5, run.h5,
# checkpoints) is synced to the disk before the rename that
# names it, by every rank (each node's page cache holds what its ranks
# wrote), and its folder is synced after: a crash of the machine right
# after a run leaves whole files, never a named file with lost pages.
# Seen through strace on a 2-rank run.
. "$(dirname "$0")/common.sh"
command -v strace >/dev/null || { echo "strace not installed: processes not traced"; exit 77; }
small_config "$TMP/small.yaml"
printf 'checkpoint: {every: 20}\n' >>"$TMP/small.yaml"
strace -f -qq -e trace=openat,fsync,fdatasync,rename,close -o "$TMP/trace" \
	"$MPIRUN" -n 2 --bind-to none "$W2S" run "$TMP/small.yaml" --out "$TMP/run" --quiet ||
	fail "w2s run on 2 ranks under strace"
"$PYTHON3" - "$TMP/trace" "$TMP/run" <<'PY' || fail "a file was named before it was synced (above)"
import os, re, sys
trace, out = sys.argv[1], os.path.realpath(sys.argv[2])
fds = {}         # (pid, fd) -> path
synced = {}      # path -> set of pids that synced it while it had that path
renamed = []     # (index, pid, old, new)
folder_syncs = []  # (index, folder)
line_re = re.compile(r'^(\d+) +(\w+)\((.*)\) += (-?\d+)')
# A call another process interrupts is split in two lines: it counts where
# it returns.
start_re = re.compile(r'^(\d+) +(\w+)\((.*) <unfinished \.\.\.>$')
end_re = re.compile(r'^(\d+) +<\.\.\. (\w+) resumed>(.*)\) += (-?\d+)')
pending = {}
for i, line in enumerate(open(trace)):
    line = line.rstrip("\n")
    m = start_re.match(line)
    if m:
        pending[m.group(1)] = m.group(3)
        continue
    m = end_re.match(line)
    if m:
        pid, call, ret = m.group(1), m.group(2), int(m.group(4))
        args = pending.pop(pid, "") + m.group(3)
    else:
        m = line_re.match(line)
        if not m:
            continue
        pid, call, args, ret = m.group(1), m.group(2), m.group(3), int(m.group(4))
    args = args.strip().rstrip(",").strip()
    if call == "openat" and ret >= 0:
        fds[(pid, ret)] = os.path.normpath(re.search(r'"([^"]*)"', args).group(1))
    elif call == "close":
        fds.pop((pid, int(args)), None)
    elif call in ("fsync", "fdatasync") and ret == 0:
        path = fds.get((pid, int(args)))
        if path is None:
            continue
        if os.path.isdir(path):
            folder_syncs.append((i, path))
        else:
            synced.setdefault(path, set()).add(pid)
    elif call == "rename" and ret == 0:
        old, new = re.findall(r'"([^"]*)"', args)
        renamed.append((i, pid, os.path.normpath(old), os.path.normpath(new), set(synced.get(os.path.normpath(old), ()))))
bad = 0
named = set()
for i, pid, old, new, pids in renamed:
    if not new.startswith(out):
        continue
    named.add(os.path.relpath(new, out).split("/")[0] if "/" in os.path.relpath(new, out) else os.path.relpath(new, out))
    need = 2 if new.endswith(("data.h5", "run.h5")) or "/ckpt/" in new else 1
    if len(pids) < need:
        print(f"{new}: renamed after {len(pids)} of {need} ranks synced it")
        bad = 1
    folder = os.path.dirname(new)
    if not any(j > i and f == folder for j, f in folder_syncs):
        print(f"{new}: its folder was not synced after the rename")
        bad = 1
for want in ("config.yaml", "data.h5", "run.h5", "ckpt"):
    if want not in named:
        print(f"{want}: never renamed into place (seen: {sorted(named)})")
        bad = 1
print(f"{len([r for r in renamed if r[3].startswith(out)])} files named in the run folder")
sys.exit(bad)
PY
echo "ok: every named file was synced by every rank before its rename, and its folder after"
