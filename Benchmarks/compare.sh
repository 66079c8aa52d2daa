#!/usr/bin/env bash
# Runs a Catena benchmark and its peers back to back (A B A B …) so that their figures come from the same
# machine state, appends one JSON line per run to $OUT, and prints the medians and ratios.
#
#   bash Benchmarks/compare.sh WORKLOAD [PASSES]
#
# WORKLOAD: matmul | elementwise | overhead | mlp | rnnlm | irnn | patch | npz
# Environment: PY (python with numpy, torch, chainer as needed; default: python3, or the venv made by
# Benchmarks/peers/setup_venv.sh if present), OUT (default Benchmarks/results.jsonl), THREADS (default 2),
# CATENA_ARGS (extra arguments for catena-bench), CATENA_VARIANTS (several such argument lists separated by ';',
# each run as its own Catena entry in every pass, e.g. "--epochs 0;--impl nstep --epochs 0").
set -eu
cd "$(dirname "$0")/.."
WORKLOAD=${1:?usage: compare.sh WORKLOAD [PASSES]}
PASSES=${2:-3}
OUT=${OUT:-Benchmarks/results.jsonl}
THREADS=${THREADS:-2}
if [ -z "${PY:-}" ]; then
  if [ -x Benchmarks/peers/.venv-peers/bin/python ]; then PY=Benchmarks/peers/.venv-peers/bin/python; else PY=python3; fi
fi
swift build -c release --product catena-bench >&2
BENCH=.build/release/catena-bench
tag() { sed "s/^{/{\"pass\": $1, \"workload\": \"$WORKLOAD\", /"; }
peers=()
case "$WORKLOAD" in
  matmul) peers=("b4a_matmul.py --framework numpy" "b4a_matmul.py --framework torch") ;;
  elementwise) peers=("elementwise.py") ;;
  overhead) peers=("b4b_overhead.py --framework torch" "b4b_overhead.py --framework chainer" "b4b_overhead.py --framework numpy") ;;
  mlp) peers=("b4c_mlp.py --framework torch" "b4c_mlp.py --framework chainer") ;;
  rnnlm) peers=("b1_repeat_lm.py --framework torch --impl fused --cell lstm --epochs 0"
                "b1_repeat_lm.py --framework torch --cell lstm --epochs 0"
                "b1_repeat_lm.py --framework torch --impl fused --cell rnn --epochs 0"
                "b1_repeat_lm.py --framework torch --cell rnn --epochs 0") ;;
  irnn) peers=("b2_pixel_irnn.py --framework torch --impl fused" "b2_pixel_irnn.py --framework torch"
               "b2_pixel_irnn.py --framework chainer" "b2_pixel_irnn.py --framework numpy") ;;
  patch) peers=("b3_patch_rnn.py --framework torch --impl fused" "b3_patch_rnn.py --framework torch"
                "b3_patch_rnn.py --framework chainer") ;;
  npz) peers=("npz_io.py --framework numpy") ;;
  *) echo "unknown workload $WORKLOAD" >&2; exit 2 ;;
esac
for p in $(seq 1 "$PASSES"); do
  IFS=';' read -ra variants <<< "${CATENA_VARIANTS:-${CATENA_ARGS:-}}"
  [ ${#variants[@]} -eq 0 ] && variants=("")
  for v in "${variants[@]}"; do
    echo "+ pass $p: catena $WORKLOAD $v" >&2
    # shellcheck disable=SC2086
    CATENA_NUM_THREADS=$THREADS "$BENCH" "$WORKLOAD" $v | tag "$p" >> "$OUT"
  done
  for peer in "${peers[@]}"; do
    echo "+ pass $p: $peer" >&2
    # shellcheck disable=SC2086
    "$PY" Benchmarks/peers/$peer --threads "$THREADS" | tag "$p" >> "$OUT" || echo "  (peer failed: is its framework installed in $PY?)" >&2
  done
done
python3 Benchmarks/summarize.py "$OUT" "$WORKLOAD"
