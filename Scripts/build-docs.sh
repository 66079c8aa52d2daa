#!/usr/bin/env bash
# Builds the DocC reference and articles of Catena into a static site, with the toolchain alone (no package
# dependency): the compiler emits the symbol graph, `docc convert` turns it and Sources/Catena/Catena.docc into HTML.
#
#   bash Scripts/build-docs.sh            → .build/docs (open .build/docs/documentation/catena/index.html through a
#                                            web server, e.g. `python3 -m http.server -d .build/docs`)
# Environment: OUT (the site's folder), BASE (the hosting base path, default /), STRICT=1 to fail on any DocC warning
# (CI does).
set -euo pipefail
cd "$(dirname "$0")/.."
OUT=${OUT:-.build/docs}
SCRATCH=.build-docs
SG="$SCRATCH/symbol-graphs"
# The compiler writes the symbol graph only when it emits Catena's module, which an up-to-date build skips: touching
# one source makes the (incremental) build emit it again.
rm -rf "$SG"
mkdir -p "$SG"
touch Sources/Catena/Array/DType.swift
swift build --target Catena --scratch-path "$SCRATCH" -Xswiftc -emit-symbol-graph -Xswiftc -emit-symbol-graph-dir -Xswiftc "$(pwd)/$SG" >&2
DOCC=${DOCC:-$(command -v docc || echo "$(dirname "$(command -v swift)")/docc")}
flags=()
if [ "${STRICT:-0}" = 1 ]; then flags+=(--warnings-as-errors); fi
rm -rf "$OUT"
"$DOCC" convert Sources/Catena/Catena.docc --additional-symbol-graph-dir "$SG" \
  --fallback-display-name Catena --fallback-bundle-identifier org.catena.Catena \
  --output-path "$OUT" --transform-for-static-hosting --hosting-base-path "${BASE:-/}" "${flags[@]}"
echo "docs: $OUT/documentation/catena/index.html" >&2
