#!/usr/bin/env bash
# Builds the DocC reference and articles of Catena into a static site, with the toolchain alone (no package
# dependency): SwiftPM extracts the symbol graph, `docc convert` turns it and Sources/Catena/Catena.docc into HTML.
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
# SwiftPM's dump-symbol-graph builds the package and extracts each module's public symbols; the reference is
# Catena's (and its extensions of the standard library's types).
# It exits non-zero because the test targets' modules are not built for it; what counts is that Catena's graph
# was written afresh.
rm -rf "$SCRATCH"/*/symbolgraph
swift package --scratch-path "$SCRATCH" dump-symbol-graph --minimum-access-level public >&2 || true
SGSRC=$(ls -d "$SCRATCH"/*/symbolgraph 2>/dev/null | head -n 1)
if [ -z "$SGSRC" ] || [ ! -f "$SGSRC/Catena.symbols.json" ]; then
  echo "build-docs: no symbol graph for Catena was written (see the build's messages above)" >&2
  exit 1
fi
rm -rf "$SG"
mkdir -p "$SG"
cp "$SGSRC"/Catena.symbols.json "$SGSRC"/Catena@*.symbols.json "$SG"/
DOCC=${DOCC:-$(command -v docc || echo "$(dirname "$(command -v swift)")/docc")}
flags=()
if [ "${STRICT:-0}" = 1 ]; then flags+=(--warnings-as-errors); fi
rm -rf "$OUT"
"$DOCC" convert Sources/Catena/Catena.docc --additional-symbol-graph-dir "$SG" \
  --fallback-display-name Catena --fallback-bundle-identifier org.catena.Catena \
  --output-path "$OUT" --transform-for-static-hosting --hosting-base-path "${BASE:-/}" "${flags[@]}"
echo "docs: $OUT/documentation/catena/index.html" >&2
