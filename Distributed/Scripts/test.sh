#!/usr/bin/env bash
# Builds CatenaMN and runs its MPI test driver under mpirun with 2 and 3 processes, then each failure scenario,
# which must end the whole job with its rank's message and a non-zero status (a timeout turns a hang into a
# failure). Needs MPI (Debian: apt-get install libopenmpi-dev openmpi-bin); .ci/run installs it.
#   bash Distributed/Scripts/test.sh [debug|release]
set -euo pipefail
cd "$(dirname "$0")/.."
config="${1:-debug}"
swift build -c "$config" --product catenamn-tests
bin=".build/$config/catenamn-tests"

# CI runs as root in a container: OpenMPI refuses that unless told; --oversubscribe allows more ranks than cores.
export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1
export SWIFT_BACKTRACE=enable=no
MPIRUN=(mpirun --oversubscribe --bind-to none)

status=0
# 2 and 3 processes; then 3 again with gradient segments of 7 elements and gradients of 5 or more elements
# reduced in place, so that every exchange crosses segment boundaries and most gradients take the in-place path.
for run in "2|" "3|" "3|7"; do
  np="${run%%|*}"; segment="${run#*|}"
  echo "== mpirun -np $np catenamn-tests${segment:+ (segments of $segment elements)}"
  log=$(mktemp)
  if ! timeout 600 "${MPIRUN[@]}" -np "$np" ${segment:+-x CATENAMN_SEGMENT_ELEMENTS=$segment -x CATENAMN_IN_PLACE_ELEMENTS=5} "$bin" 2>&1 | tee "$log"; then status=1; fi
  # The driver's closing line, read by CI: N passed, N failed.
  if ! grep -Eq '^[0-9]+ passed, 0 failed$' "$log"; then echo "FAILED: -np $np did not end with 'N passed, 0 failed'"; status=1; fi
  rm -f "$log"
done

# scenario, the message the job must print
scenarios=(
  "throw-on-rank-1|rank 1/2: the data file of rank 1 is damaged"
  "exit-on-rank-1|rank 1 gives up: no data"
  "precondition-on-rank-1|add: shapes [2] and [3] cannot be broadcast together"
  "different-settings|the ranks differ in exchange settings: in place from 65536, segments of 131072: rank 1 has exchange settings: in place from 65536, segments of 99"
  "different-models|rank 0 has 4 initialised parameters, rank 1 has 4; initialised parameter 0 is '/l1/W float32 [5, 4]' on rank 0 but '/l1/W float32 [6, 4]' on rank 1"
)
for entry in "${scenarios[@]}"; do
  name="${entry%%|*}"; message="${entry#*|}"
  echo "== scenario $name"
  set +e
  out=$(timeout 120 "${MPIRUN[@]}" -np 2 "$bin" --scenario "$name" 2>&1)
  rc=$?
  set -e
  if [ "$rc" = 124 ]; then echo "FAILED: scenario $name hung (killed after 120 s)"; status=1; continue; fi
  if [ "$rc" = 0 ]; then echo "FAILED: scenario $name exited with status 0"; status=1; fi
  if ! grep -qF -- "$message" <<<"$out"; then echo "FAILED: scenario $name did not print: $message"; echo "$out" | head -20; status=1; continue; fi
  echo "ok    scenario $name: status $rc, message printed"
done
exit $status
