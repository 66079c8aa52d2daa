#!/usr/bin/env bash
# Runs every bundled example for a few iterations in a release build, on tiny generated data (and on Debian's
# Fashion-MNIST when it is installed), and checks what a user relies on: exit statuses, --help, a bad flag,
# the log, plots and snapshots, and --resume. CI runs it; so can you:  bash Scripts/smoke-examples.sh
set -euo pipefail
cd "$(dirname "$0")/.."
swift build -c release --product repeat-count >&2
for p in irnn-mnist patch-rnn-mnist rnnlm dot-product; do swift build -c release --product "$p" >&2; done
BIN=.build/release
WORK=$(mktemp -d)
trap 'rm -rf "$WORK"' EXIT
python3 Scripts/make-tiny-datasets.py "$WORK/data"
fail() { echo "smoke: $*" >&2; exit 1; }

expect_status() {  # expect_status CODE command...
  local want=$1; shift
  set +e
  "$@" > "$WORK/out.txt" 2> "$WORK/err.txt"
  local got=$?
  set -e
  [ "$got" = "$want" ] || { cat "$WORK/out.txt" "$WORK/err.txt" >&2; fail "'$*' exited $got, expected $want"; }
}

check_run() {  # check_run DIR FILE...: the run wrote a log (JSON), plots and at least one snapshot
  local dir=$1; shift
  python3 -c "import json,sys; rows=json.load(open(sys.argv[1])); assert rows, 'empty log'" "$dir/log" || fail "$dir/log is not a JSON log"
  for f in "$@"; do [ -s "$dir/$f" ] || fail "$dir/$f missing"; done
  ls "$dir" | grep -q '^snapshot_' || fail "no snapshot in $dir"
}

newest_snapshot() { ls -t "$1"/snapshot_iter_* | head -n 1; }

for p in repeat-count irnn-mnist patch-rnn-mnist rnnlm dot-product; do
  expect_status 0 "$BIN/$p" --help
  grep -q "usage: $p" "$WORK/out.txt" || fail "$p --help printed no usage"
  expect_status 2 "$BIN/$p" --no-such-flag
  grep -q "unknown option '--no-such-flag'" "$WORK/err.txt" || fail "$p: bad flag message"
  expect_status 2 "$BIN/$p" --epochs 9223372036854775807000
done

echo "+ repeat-count" >&2
expect_status 0 "$BIN/repeat-count" --epochs 2 --tokens 4000 --units 20 --quiet --out "$WORK/rc"
check_run "$WORK/rc" loss.svg accuracy.svg
expect_status 0 "$BIN/repeat-count" --epochs 3 --tokens 4000 --units 20 --quiet --out "$WORK/rc" --resume "$(newest_snapshot "$WORK/rc")"
grep -q "Resumed from" "$WORK/out.txt" || fail "repeat-count did not resume"
expect_status 2 "$BIN/repeat-count" --units 100000

echo "+ irnn-mnist" >&2
expect_status 0 "$BIN/irnn-mnist" --data "$WORK/data/mnist" --epochs 1 --units 16 --log-interval 2 --snapshot-interval 2 --quiet --out "$WORK/irnn"
check_run "$WORK/irnn" loss.svg accuracy.svg
grep -q "test accuracy" "$WORK/out.txt" || fail "irnn-mnist printed no accuracy"
expect_status 0 "$BIN/irnn-mnist" --data "$WORK/data/mnist" --epochs 2 --units 16 --input linear --log-interval 2 --snapshot-interval 2 --quiet --out "$WORK/irnn2"
expect_status 0 "$BIN/irnn-mnist" --data "$WORK/data/mnist" --epochs 2 --units 16 --log-interval 2 --snapshot-interval 2 --quiet --out "$WORK/irnn" --resume "$(newest_snapshot "$WORK/irnn")"
grep -q "Resumed from" "$WORK/out.txt" || fail "irnn-mnist did not resume"
expect_status 1 "$BIN/irnn-mnist" --data "$WORK/nowhere" --quiet --out "$WORK/irnn3"
grep -q "not found. Looked in" "$WORK/err.txt" || fail "irnn-mnist: missing data message"

echo "+ patch-rnn-mnist" >&2
expect_status 0 "$BIN/patch-rnn-mnist" --data "$WORK/data/mnist" --epochs 2 --train-size 40 --test-size 20 --batchsize 10 --quiet --out "$WORK/patch"
check_run "$WORK/patch" accuracy.svg loss.svg
expect_status 0 "$BIN/patch-rnn-mnist" --data "$WORK/data/mnist" --epochs 3 --train-size 40 --test-size 20 --batchsize 10 --quiet --out "$WORK/patch" --resume "$(newest_snapshot "$WORK/patch")"
grep -q "Resumed from" "$WORK/out.txt" || fail "patch-rnn-mnist did not resume"
expect_status 2 "$BIN/patch-rnn-mnist" --patch 5
if [ -d /usr/share/datasets/fashion-mnist ]; then
  expect_status 0 "$BIN/patch-rnn-mnist" --fashion --epochs 1 --train-size 200 --test-size 100 --quiet --out "$WORK/patchf"
  grep -q "Fashion-MNIST validation accuracy" "$WORK/out.txt" || fail "patch-rnn-mnist on Fashion-MNIST"
fi

echo "+ rnnlm" >&2
for level in word char; do
  expect_status 0 "$BIN/rnnlm" "$WORK/data/text.txt" --level "$level" --epochs 2 --units 16 --batchsize 4 --bproplen 5 --sample 10 --quiet --out "$WORK/lm-$level"
  check_run "$WORK/lm-$level" loss.svg
  grep -q "Unigram baseline" "$WORK/out.txt" || fail "rnnlm printed no baseline"
  grep -q "Sample after" "$WORK/out.txt" || fail "rnnlm printed no sample"
done
expect_status 0 "$BIN/rnnlm" "$WORK/data/text.txt" --epochs 3 --units 16 --batchsize 4 --bproplen 5 --sample 0 --quiet --out "$WORK/lm-word" --resume "$(newest_snapshot "$WORK/lm-word")"
grep -q "Resumed from" "$WORK/out.txt" || fail "rnnlm did not resume"
expect_status 2 "$BIN/rnnlm"
expect_status 1 "$BIN/rnnlm" "$WORK/no-such-file.txt" --quiet --out "$WORK/lm3"

echo "+ dot-product" >&2
expect_status 0 "$BIN/dot-product" --epochs 2 --train-size 50 --test-size 20 --quiet --out "$WORK/dot"
check_run "$WORK/dot" loss.svg
grep -q "of the targets' variance" "$WORK/out.txt" || fail "dot-product printed no relative error"
expect_status 0 "$BIN/dot-product" --epochs 3 --train-size 50 --test-size 20 --quiet --out "$WORK/dot" --resume "$(newest_snapshot "$WORK/dot")"
grep -q "Resumed from" "$WORK/out.txt" || fail "dot-product did not resume"
# A table sent to a file is not interleaved with progress lines (they go to standard error).
"$BIN/dot-product" --epochs 1 --train-size 2000 --test-size 20 --out "$WORK/dot2" > "$WORK/table.txt" 2> "$WORK/progress.txt"
grep -q "iters/sec" "$WORK/table.txt" && fail "progress lines in the table"
grep -q "iters/sec" "$WORK/progress.txt" || fail "no progress lines on standard error"
expect_status 2 "$BIN/dot-product" --low 1 --high 0
echo "smoke: every example ran" >&2
