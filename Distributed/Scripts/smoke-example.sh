#!/usr/bin/env bash
# Runs the data-parallel example as users run it (release, mpirun -np 2) on Debian's Fashion-MNIST for two short
# epochs, resumes it for a third, and checks that the resumed log equals an uninterrupted three-epoch run's.
set -euo pipefail
cd "$(dirname "$0")/.."
swift build -c release --product patch-rnn-mnist-mn
bin=.build/release/patch-rnn-mnist-mn
export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1 SWIFT_BACKTRACE=enable=no
dir=$(mktemp -d)
trap 'rm -rf "$dir"' EXIT
args=(--fashion --train-size 600 --test-size 200 --quiet)
run() { timeout 300 mpirun --oversubscribe --bind-to none -np 2 "$bin" "${args[@]}" "$@"; }
run --epochs 2 --out "$dir/a"
run --epochs 3 --out "$dir/a" --resume
run --epochs 3 --out "$dir/b" > /dev/null
python3 - "$dir/a/log" "$dir/b/log" <<'PY'
import json, sys
a, b = (json.load(open(p)) for p in sys.argv[1:])
keys = ["epoch", "iteration", "main/loss", "main/accuracy", "validation/main/loss", "validation/main/accuracy"]
assert len(a) == len(b) == 3, (len(a), len(b))
for x, y in zip(a, b):
    assert all(x[k] == y[k] for k in keys), (x, y)
print("resumed 2-process run: log identical to the uninterrupted run's")
PY
# A bad flag is refused by every rank with the usage, status 2, before MPI starts any collective.
set +e
out=$(timeout 60 mpirun --oversubscribe -np 2 "$bin" --epochs 0 2>&1); rc=$?
set -e
if [ "$rc" = 0 ] || [ "$rc" = 124 ] || ! grep -q -- "--epochs" <<<"$out"; then echo "FAILED: a bad flag gave status $rc: $out"; exit 1; fi
echo "bad flag: status $rc, message printed"
