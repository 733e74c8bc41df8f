#!/usr/bin/env bash
# The full crash harness: a coordinator process (auto policy, embedded Kafka) killed with SIGKILL
# KILLS times (default 20) at random moments while CONTRIBUTORS (default 4) push, resume and retry;
# restarted on the same data each time. At the end it checks that every acknowledged proposal is
# merged exactly once, none is stranded, every event is in Kafka exactly once, and fsck passes,
# and prints one line of figures. The coordinator's output and the kill times go to
# coordinator/target/crash-harness.log. SEED repeats a run. Takes about 30 s per kill on 2 busy cores (a restart with Kafka takes ~20 s).
set -euo pipefail
cd "$(dirname "$0")/.."
KILLS="${KILLS:-20}"
CONTRIBUTORS="${CONTRIBUTORS:-4}"
SEED_ARG=()
if [[ -n "${SEED:-}" ]]; then SEED_ARG=("-Dmerit.crash.seed=$SEED"); fi
./mvnw -B -o verify -pl coordinator -am -Dtest=CrashHarnessTest -Dsurefire.failIfNoSpecifiedTests=false \
    -Dmerit.crash.kills="$KILLS" -Dmerit.crash.contributors="$CONTRIBUTORS" "${SEED_ARG[@]}" \
    -DskipPool8=true 2>&1 | grep -E "crash harness|Tests run|FAIL|BUILD"
