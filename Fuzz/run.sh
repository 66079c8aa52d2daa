#!/usr/bin/env bash
# Fuzzes one mode for a bounded time:  bash Fuzz/run.sh MODE SECONDS   (MODE: npz, npy, idx, snapshot)
# Builds the fuzzer if needed, makes the seed corpora once, keeps the growing corpus in .build-fuzz/corpus/MODE,
# and exits non-zero when libFuzzer finds a crash (its input is left in .build-fuzz/crashes/MODE/): copy it into
# Tests/CatenaTests/Fuzz/Regressions/MODE/ with the fix, so the test suite replays it from then on.
set -euo pipefail
cd "$(dirname "$0")/.."
MODE=${1:?usage: Fuzz/run.sh npz|npy|idx|snapshot SECONDS}
SECONDS_TO_RUN=${2:-60}
[ -x .build-fuzz/catena-fuzz ] || bash Fuzz/build.sh
SEEDS=.build-fuzz/seeds
if [ ! -d "$SEEDS/npz" ]; then
  python3 Fuzz/make-seeds.py "$SEEDS"
  CATENA_FUZZ_MODE=npz CATENA_FUZZ_EMIT_SNAPSHOTS="$SEEDS/npz" .build-fuzz/catena-fuzz
  cp Tests/CatenaTests/Fixtures/*.npz "$SEEDS/npz/"
  cp Tests/CatenaTests/Fixtures/*.npy "$SEEDS/npy/"
fi
CORPUS=.build-fuzz/corpus/$MODE
mkdir -p "$CORPUS" ".build-fuzz/crashes/$MODE"
# Swift's own backtracer trips over AddressSanitizer after a fatal error; libFuzzer reports the crash either way.
export SWIFT_BACKTRACE=enable=no
CATENA_FUZZ_MODE=$MODE .build-fuzz/catena-fuzz "$CORPUS" "$SEEDS/$MODE" Tests/CatenaTests/Fuzz/Regressions/"$MODE" \
  -max_total_time="$SECONDS_TO_RUN" -rss_limit_mb=1536 -malloc_limit_mb=256 -max_len=65536 -timeout=20 \
  -artifact_prefix=".build-fuzz/crashes/$MODE/" -print_final_stats=1
