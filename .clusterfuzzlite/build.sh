#!/bin/bash -eu
# ClusterFuzzLite / OSS-Fuzz build script (sample): every in-process target
# of harness/inproc/targets.list into $OUT, with <target>_seed_corpus.zip,
# <target>.dict and <target>.options (see scripts/oss-fuzz-build).
"$SRC/hvfuzz/scripts/oss-fuzz-build"
