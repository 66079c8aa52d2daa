#!/usr/bin/env bash
# CatenaMN's benchmarks (release build), each figure a median over passes that alternate the commands compared:
#   - gradient exchange: allreduceGrad against a bare MPI_Allreduce of the same buffer, 1M and 10M float32
#     parameters, 2 processes (measured call by call inside one job);
#   - scaling: training throughput of 2 single-threaded processes against 1, on the MLP (B4c) and patch-RNN (B3)
#     workloads, the 1- and 2-process jobs alternating pass by pass.
#   bash Distributed/Scripts/bench.sh [passes]       (default 3; results also in Distributed/.build/bench.jsonl)
set -euo pipefail
cd "$(dirname "$0")/.."
passes="${1:-3}"
swift build -c release --product catenamn-bench >/dev/null
bin=.build/release/catenamn-bench
export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1
out=.build/bench.jsonl
: > "$out"
run() { mpirun --oversubscribe --bind-to none -x CATENA_NUM_THREADS=1 "$@" | tee -a "$out"; }
for pass in $(seq "$passes"); do
  echo "== pass $pass"
  for params in 1000000 10000000; do run -np 2 "$bin" allreduce --params "$params"; done
  for workload in mlp patch; do
    run -np 1 "$bin" "$workload"
    run -np 2 "$bin" "$workload"
  done
done
python3 - "$out" <<'PY'
import json, statistics, sys
rows = [json.loads(l) for l in open(sys.argv[1]) if l.startswith("{")]
med = statistics.median
print("\n== medians over passes")
for params in sorted({r["params"] for r in rows if r["bench"] == "allreduce"}):
    rs = [r for r in rows if r["bench"] == "allreduce" and r["params"] == params]
    print(f"allreduce {params:>9} params: allreduceGrad {med(r['s_allreduceGrad'] for r in rs)*1e3:.3f} ms, "
          f"MPI_Allreduce {med(r['s_MPI_Allreduce'] for r in rs)*1e3:.3f} ms, bare/CatenaMN {med(r['ratio_bare_over_catenamn'] for r in rs):.3f} (target >= 0.9); "
          f"given the parameter list: {med(r['s_allreduceGrad_parameters'] for r in rs)*1e3:.3f} ms, {med(r['ratio_bare_over_catenamn_parameters'] for r in rs):.3f}")
for w in ("mlp", "patch"):
    one = med(r["examples_per_s"] for r in rows if r["bench"] == w and r["ranks"] == 1)
    two = med(r["examples_per_s"] for r in rows if r["bench"] == w and r["ranks"] == 2)
    print(f"{w:>5}: 1 process {one:.0f} examples/s, 2 processes {two:.0f} examples/s, scaling {two/one:.2f}x (target >= 1.7)")
PY
