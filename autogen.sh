#!/bin/sh
# Regenerates configure and the Makefile.in files from configure.ac and
# Makefile.am.  Run once after a fresh clone: ./autogen.sh && ./configure && make
set -e
cd "$(dirname "$0")"
mkdir -p m4
autoreconf -fi
