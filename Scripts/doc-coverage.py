#!/usr/bin/env python3
"""Lists the public symbols of Catena without a doc comment, by file, from the symbol graph that
Scripts/build-docs.sh extracts (run that first). Exits 1 if any are left.

    python3 Scripts/doc-coverage.py [--quiet]
"""
import collections, glob, json, sys

files = glob.glob(".build-docs/*/symbolgraph/Catena.symbols.json") + glob.glob(".build-docs/*/symbolgraph/Catena@*.symbols.json")
if not files:
    sys.exit("no symbol graph: run Scripts/build-docs.sh first")
by_file = collections.defaultdict(list)
total = 0
for f in files:
    for s in json.load(open(f))["symbols"]:
        if s["accessLevel"] not in ("public", "open"):
            continue
        total += 1
        name = ".".join(s["pathComponents"])
        # Members synthesised by the compiler (Hashable, Equatable, RawRepresentable) carry the protocol's own docs.
        if s.get("docComment") or name.endswith(("hashValue", "hash(into:)", ".rawValue", "init(rawValue:)")):
            continue
        loc = s.get("location", {})
        if not loc:
            continue   # a standard-library member inherited through a conformance (Int's init(exactly:)): not Catena's
        where = loc.get("uri", "?").split("/Sources/", 1)[-1]
        by_file[where].append((loc.get("position", {}).get("line", -1) + 1, s["kind"]["identifier"], name))
missing = sum(len(v) for v in by_file.values())
if "--quiet" not in sys.argv:
    for f in sorted(by_file, key=lambda k: -len(by_file[k])):
        print(f"{f}: {len(by_file[f])}")
        for line, kind, name in sorted(by_file[f]):
            print(f"    {line}: {kind} {name}")
print(f"{total} public symbols, {missing} without a doc comment")
sys.exit(1 if missing else 0)
