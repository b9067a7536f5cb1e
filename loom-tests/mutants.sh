#!/usr/bin/env bash
# Mutation check for the loom models: builds the engine with each deliberate bug
# (`--cfg kobj_mutant="<name>"`, one-line alternatives next to the real code) and runs
# the models expected to catch it, in order, until one fails. Prints a table
# mutant -> catching model, and exits non-zero if any mutant survives every model.
#
#   loom-tests/mutants.sh                 # every mutant
#   loom-tests/mutants.sh fill_no_fence   # just these
#
# Slow (a build per mutant): not part of CI. Uses its own target dir (target/loom-mutant).
set -uo pipefail
cd "$(dirname "$0")/.."

export CARGO_TARGET_DIR="${CARGO_TARGET_DIR_MUTANT:-target/loom-mutant}"
export LOOM_MAX_PREEMPTIONS="${LOOM_MAX_PREEMPTIONS:-2}"
PER_RUN_TIMEOUT="${PER_RUN_TIMEOUT:-1200}"

# mutant: what it breaks | candidate models (test-file[:test-name-filter]), first expected to catch
declare -A WHAT=(
  [seqlock_no_recheck]="table get: the seqlock's second meta load removed"
  [link_relaxed]="table push_free: the free-list link stored into entry.object Relaxed"
  [pop_no_tag]="table pop_from: the pop drops the head's tag"
  [fill_no_fence]="table fill: no SeqCst fence between the LIVE store and the closed check"
  [close_source_release]="duplicate_handle CLOSE_SOURCE: releases the source's reference, then retakes one"
  [try_ref_plain]="ObjectHeader::try_ref and try_handle_ref: a plain increment of the counts"
  [try_into_handle_plain]="ObjRef::try_into_handle and try_handle_ref: a plain increment of the counts"
  [name_remove_unconditional]="last close removes the name without the identity check (model 8's replica)"
  [take_no_cas]="entry take (close): checks LIVE, then a plain store instead of the CAS"
  [root_no_cas]="table growth: the new root stored over whatever is there instead of CASed"
  [alias_no_generation]="private alias: the handle's generation not compared (a reused value revives it)"
  [decide_store]="wait block: the status decided by a load and a store instead of a CAS"
  [no_recheck]="wait-any: sleeps after queueing without checking its objects again"
  [async_no_undo]="WaitFuture drop: a grant made before the drop is not undone (lost)"
  [apc_unchecked]="alertable wait: APCs queued before it registers are not seen (it sleeps)"
  [reset_unlocked]="set_waitable_timer: the reset happens before the deadline map's lock"
)
declare -A MODELS=(
  [seqlock_no_recheck]="entry_seqlock"
  [link_relaxed]="entry_seqlock"
  [pop_no_tag]="free_list:free_list_aba free_list"
  [fill_no_fence]="terminate"
  [close_source_release]="duplicate:duplicate_close_source_vs_close"
  [try_ref_plain]="duplicate:duplicate_in_place_vs_close inherit:inherit_vs_close duplicate"
  [try_into_handle_plain]="duplicate:duplicate_in_place_vs_close inherit:inherit_vs_close duplicate"
  [name_remove_unconditional]="names_protocol:names_last_close_vs_recreate names_protocol"
  [take_no_cas]="entry_close"
  [root_no_cas]="table_growth:table_growth_new_leaf table_growth"
  [alias_no_generation]="private_alias"
  [decide_store]="waits:timeout_vs_signal waits"
  [no_recheck]="waits:wait_any_vs_release waits"
  [async_no_undo]="async_time:dropped_future_passes_on_a_semaphore async_time"
  [apc_unchecked]="async_time:apc_vs_alertable_wait"
  [reset_unlocked]="async_time:timer_expiry_vs_set"
)
ORDER=(seqlock_no_recheck link_relaxed pop_no_tag fill_no_fence close_source_release try_ref_plain
  try_into_handle_plain name_remove_unconditional take_no_cas root_no_cas alias_no_generation
  decide_store no_recheck async_no_undo apc_unchecked reset_unlocked)

if [ $# -gt 0 ]; then ORDER=("$@"); fi

log_dir="$CARGO_TARGET_DIR/mutant-logs"
mkdir -p "$log_dir"
results=()
survivors=0
for m in "${ORDER[@]}"; do
  if [ -z "${MODELS[$m]:-}" ]; then
    echo "unknown mutant: $m" >&2
    exit 2
  fi
  echo "== mutant $m: ${WHAT[$m]}" >&2
  flags="--cfg loom --cfg crossbeam_loom --cfg kobj_mutant=\"$m\""
  if ! RUSTFLAGS="$flags" cargo build -q -p kobj-loom-tests --release --tests 2>"$log_dir/$m.build"; then
    echo "   build failed: see $log_dir/$m.build" >&2
    results+=("$m|BUILD FAILED|")
    survivors=$((survivors + 1))
    continue
  fi
  caught=""
  why=""
  for spec in ${MODELS[$m]}; do
    file="${spec%%:*}"
    filter=""
    [ "$spec" != "$file" ] && filter="${spec#*:}"
    log="$log_dir/$m.$file${filter:+.$filter}.log"
    start=$SECONDS
    RUSTFLAGS="$flags" timeout "$PER_RUN_TIMEOUT" \
      cargo test -q -p kobj-loom-tests --release --test "$file" -- $filter >"$log" 2>&1
    rc=$?
    echo "   $spec: exit $rc after $((SECONDS - start)) s" >&2
    if [ $rc -ne 0 ] && [ $rc -ne 124 ]; then
      caught="$file${filter:+::$filter}"
      # The first panic message: what the model saw.
      why=$(grep -m1 -A1 "panicked at" "$log" | tail -n1 | cut -c1-110)
      break
    fi
  done
  if [ -n "$caught" ]; then
    results+=("$m|$caught|$why")
  else
    results+=("$m|SURVIVED|")
    survivors=$((survivors + 1))
  fi
done

printf '\n%-26s %-50s %s\n' "mutant" "caught by" "what the model saw"
for r in "${results[@]}"; do
  IFS='|' read -r m c w <<<"$r"
  printf '%-26s %-50s %s\n' "$m" "$c" "$w"
done
if [ $survivors -ne 0 ]; then
  echo "$survivors mutant(s) survived" >&2
  exit 1
fi
echo "every mutant caught"
