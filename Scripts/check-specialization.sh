#!/usr/bin/env bash
# Checks that every dtype-dispatched kernel runs specialised in the release build users get.
#
# Catena's kernels are written once, generic over the element type, and reached through DType.withFloatType and its
# siblings (Sources/Catena/Array/DType.swift). The optimiser specialises each for Float, Double, Int32, … only if
# it sees through the opened metatype; if a change defeats that (for instance `@inline(__always)` on the generic
# local function a site passes to the helper), the kernel still gives the right numbers but runs about ten times
# slower, calling the standard library's protocol witnesses for every element. This script runs
# `catena-bench dispatch` (every dispatched operation on every dtype it accepts) under callgrind and fails if any
# instruction is spent in those witnesses.
#
#   usage: bash Scripts/check-specialization.sh        (needs valgrind; builds catena-bench in release)
set -euo pipefail
cd "$(dirname "$0")/.."
if ! command -v valgrind >/dev/null; then
  echo "check-specialization: valgrind is not installed (Debian: apt-get install valgrind)" >&2
  exit 2
fi
swift build -c release --product catena-bench >/dev/null
bin=$(swift build -c release --show-bin-path)/catena-bench
out=$(mktemp -d)
trap 'rm -rf "$out"' EXIT
# valgrind 3.19 cannot read the DWARF 5 that swiftc emits: profile a copy without it (symbols are kept).
cp "$bin" "$out/catena-bench"
strip --strip-debug "$out/catena-bench"
valgrind --tool=callgrind --callgrind-out-file="$out/cg.out" "$out/catena-bench" dispatch --reps 1 >/dev/null 2>"$out/log" ||
  { cat "$out/log" >&2; exit 1; }
callgrind_annotate "$out/cg.out" | python3 -c '
import re, sys
# Protocol witnesses of Float, Double, the integer types and the standard library protocols, and the run-time
# lookups of associated types and conformances: unspecialised generic code calls them, specialised code never does.
witness = re.compile(r"swift_getAssociated(Conformance|Type)Witness|\$s(S[fdi]|s5(Int32|Int64|UInt8)V)[A-Za-z0-9_]*TW\b|\$ss[0-9]+[A-Za-z_]+P[A-Za-z0-9_]*Tj\b")
total, found = 0, []
for line in sys.stdin:
    m = re.match(r"\s*([0-9,]+) \(\s*[0-9.]+%\)\s+(.*)", line)
    if not m:
        continue
    count, name = int(m.group(1).replace(",", "")), m.group(2)
    if "PROGRAM TOTALS" in name:
        total = count
    elif witness.search(name):
        found.append((count, name))
if total == 0:
    sys.exit("check-specialization: callgrind recorded nothing")
if found:
    print("check-specialization: unspecialised generic code ran (%d of %d instructions in protocol witnesses):" % (sum(c for c, _ in found), total))
    for count, name in sorted(found, reverse=True)[:15]:
        print("  %12d  %s" % (count, name[:150]))
    sys.exit(1)
print("check-specialization: every dispatched kernel ran specialised (%d instructions, none in protocol witnesses)" % total)
'
