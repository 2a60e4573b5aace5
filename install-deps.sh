#!/bin/sh
# Install the Debian packages w2s builds, tests and analyses with.
# Idempotent: with everything present it checks and returns in well under a
# second.  Usage: ./install-deps.sh [build|test|fuzz|analysis|slurm|bench|all]   (default: all;
# all leaves out bench, whose PyTorch is large and only `make bench` uses)
set -eu

build="gcc make autoconf automake libtool pkg-config procps libopenmpi-dev openmpi-bin
libhdf5-openmpi-dev hdf5-tools libblis-dev libcmocka-dev libyaml-dev libjansson-dev
librandom123-dev"
# The multi-host tests make hosts from network namespaces (ip) and record
# each host's file writes (strace).
multihost="iproute2 strace"
# `make fuzz` (run by check.sh): clang and its libFuzzer and sanitizer
# runtimes; gcc's sanitizers (--enable-sanitizers) come with gcc.
fuzz="clang libclang-rt-dev"
analysis="python3 python3-h5py python3-numpy python3-matplotlib python3-pytest python3-pandas
python3-xarray python3-h5netcdf"
slurm="munge slurmctld slurmd slurm-client procps"
# `make bench` compares with PyTorch; OpenBLAS is the fastest BLAS Debian's
# torch can load here (it takes whichever libblas.so.3 the system has).
bench="python3 python3-h5py python3-numpy python3-torch libopenblas0-pthread"

case "${1:-all}" in
build) want="$build" ;;
test) want="$build $analysis $multihost $slurm $fuzz" ;; # tests/slurm_jobs.sh runs a local cluster
fuzz) want="$fuzz" ;;
analysis) want="$analysis" ;;
slurm) want="$slurm" ;;
bench) want="$build $bench" ;;
all) want="$build $analysis $multihost $fuzz $slurm" ;;
*) echo "install-deps.sh: unknown group '$1' (expected build, test, fuzz, analysis, slurm, bench or all)" >&2; exit 2 ;;
esac

missing=""
for p in $want; do
	dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "ok installed" || missing="$missing $p"
done
[ -z "$missing" ] && exit 0

sudo=""
[ "$(id -u)" -eq 0 ] || sudo="sudo"
echo "install-deps.sh: installing$missing" >&2
export DEBIAN_FRONTEND=noninteractive
apt="$sudo apt-get -o DPkg::Lock::Timeout=600 -y --no-install-recommends"
# A fresh machine has no package lists; a stale list fails to find a package.
$apt install $missing || { $sudo apt-get -o DPkg::Lock::Timeout=600 update && $apt install $missing; }
