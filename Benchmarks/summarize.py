"""Summarise benchmark JSON lines (from Benchmarks/compare.sh): medians over passes per framework, and ratios.

    python3 Benchmarks/summarize.py Benchmarks/results.jsonl [WORKLOAD]
"""
import json
import statistics
import sys
from collections import defaultdict


def metrics(r):
    """The headline numbers of one record: {name: (value, higher_is_better)}."""
    b = r.get("bench", "")
    if b == "B4a_matmul":
        return {f"gflops n={n}": (v["gflops"]["median"], True) for n, v in r["results"].items()}
    if b == "elementwise":
        return {k: (r[k]["median"], True) for k in ("add_gbs", "add_inplace_gbs", "sum_gbs") if k in r}
    if b == "B4b_overhead":
        out = {"us_per_op": (r["us_per_op"]["median"], False)}
        for k in ("us_forward_graph", "us_forward_nograd", "us_chain_tanh_per_step"):
            if k in r:
                out[k] = (r[k]["median"], False)
        return out
    if b == "B4c_mlp":
        return {"s_per_step": (r["s_per_step"]["median"], False)}
    if b == "B1_repeat_lm":
        return {f"tokens_per_s {r.get('cell')}": (r["tokens_per_s"]["median"], True)}
    if b == "npz_io":
        return {k: (r[k]["median"], True) for k in ("stored_write_mb_per_s", "stored_read_mb_per_s",
                                                    "deflate_write_mb_per_s", "deflate_read_mb_per_s") if k in r}
    if b in ("B2_pixel_irnn", "B3_patch_rnn"):
        return {"s_per_batch": (r["s_per_batch"]["median"], False)}
    return {}


def label(r):
    parts = [r.get("framework", "?")]
    if "impl" in r and (r.get("framework") != "catena" or r["impl"] != "stepped"):
        parts.append(r["impl"])
    if "cell" in r and r.get("bench") == "B1_repeat_lm":
        parts.append(r["cell"])
    if r.get("layout") == "time":
        parts.append("time-major")
    return " ".join(parts)


def main():
    path = sys.argv[1]
    want = sys.argv[2] if len(sys.argv) > 2 else None
    table = defaultdict(lambda: defaultdict(list))
    better = {}
    for line in open(path):
        line = line.strip()
        if not line.startswith("{"):
            continue
        r = json.loads(line)
        if want and r.get("workload") not in (want, None):
            continue
        for name, (v, hib) in metrics(r).items():
            table[name][label(r)].append(v)
            better[name] = hib
    for name, rows in table.items():
        print(f"== {name} ({'higher' if better[name] else 'lower'} is better; median over passes)")
        meds = {k: statistics.median(v) for k, v in rows.items()}
        cat = [k for k in meds if k.startswith("catena")]
        for k, m in sorted(meds.items()):
            line = f"  {k:28s} {m:12.4g}  (n={len(rows[k])})"
            if cat and not k.startswith("catena"):
                for ck in cat:
                    c = meds[ck]
                    ratio = c / m if better[name] else m / c
                    line += f"   {ck} is {ratio:.2f}x this"
            print(line)


if __name__ == "__main__":
    main()
