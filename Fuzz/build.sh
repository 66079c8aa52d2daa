#!/usr/bin/env bash
# Builds the coverage-guided fuzzer: Catena's sources (and Examples/Models), the fuzz targets (Tests/CatenaTests/Fuzz/FuzzTargets.swift)
# and the libFuzzer entry points (Fuzz/Harness.swift) in one module, with -sanitize=fuzzer,address, using the Swift
# toolchain's own clang and libFuzzer. Output: .build-fuzz/catena-fuzz.
set -euo pipefail
cd "$(dirname "$0")/.."
OUT=.build-fuzz
mkdir -p "$OUT/obj" "$OUT/include"
CLANG=${CLANG:-$(dirname "$(command -v swiftc)")/clang}
# The C kernels, instrumented for coverage but without libFuzzer's main.
for c in Sources/CCatenaKernels/*.c; do
  "$CLANG" -c -O2 -g -fsanitize=fuzzer-no-link,address -ISources/CCatenaKernels/include "$c" -o "$OUT/obj/$(basename "$c" .c).o"
done
cat > "$OUT/include/module.modulemap" <<MAP
module CCatenaKernels {
    umbrella header "$(pwd)/Sources/CCatenaKernels/include/CatenaKernels.h"
    export *
}
MAP
# The models the snapshot mode builds (Examples/Models, a target of its own in the package) join the one module.
mapfile -t SOURCES < <(find Sources/Catena Examples/Models -name '*.swift' | sort)
swiftc -O -g -sanitize=fuzzer,address -parse-as-library -module-name Catena -swift-version 6 -D CATENA_FUZZ_HARNESS \
  -Xcc -fmodule-map-file="$OUT/include/module.modulemap" -I Sources/CCatenaKernels/include \
  "${SOURCES[@]}" Tests/CatenaTests/Fuzz/FuzzTargets.swift Fuzz/Harness.swift "$OUT"/obj/*.o \
  -o "$OUT/catena-fuzz"
echo "built $OUT/catena-fuzz" >&2
