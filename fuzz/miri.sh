#!/usr/bin/env bash
# Runs the engine's unit tests and its single-threaded integration tests under Miri
# (nightly), one test binary at a time, and says which were clean.
#
#   bash fuzz/miri.sh              # everything below
#   bash fuzz/miri.sh lib tables   # only these binaries ("lib" = the unit tests)
#
# MIRIFLAGS defaults to tree borrows (crossbeam-epoch's tagged pointers are not
# stacked-borrows clean), host file access for the tests that make temp files, and no
# leak report (crossbeam-epoch's global collector and thread-locals live until exit).
# Tests that spin up many threads or loop thousands of times are skipped by name: they
# are the stress tests, which under Miri would take hours; the loom models cover the races.
# The random-call tests of bad_input.rs and duplication.rs run with fewer rounds under
# cfg(miri) instead.
# engine/tests/review_fixes.rs (the review's regressions: the seqlock race of issue 7.1,
# a foreign ObjectType, client ids across the wrap, child privileges) runs whole, with
# Miri's preemption on (-Zmiri-preemption-rate=0.1) for its racing test; before the 7.1
# fix its lookup_racing_close_and_reuse reported a null &ObjectHeader here.
set -u
cd "$(dirname "$0")/.."

if ! cargo +nightly miri --version >/dev/null 2>&1; then
    rustup component add miri rust-src --toolchain nightly
fi

base_flags="${MIRIFLAGS:--Zmiri-tree-borrows -Zmiri-disable-isolation -Zmiri-ignore-leaks}"
logs="${MIRI_LOGS:-target/miri-logs}"
mkdir -p "$logs"

# binary name, then the tests to skip (substring filters of the libtest harness).
declare -A skips=(
    [lib]=""
    [tables]=""
    [duplication]=""
    [inheritance]="stress_inheritance_while_the_parent_churns_handles a_child_opened_by_pid_during_its_creation_is_not_corrupted a_large_parent_table_is_copied_exactly"
    [named]="live_names names_are_limited_to_32767_utf16_units"
    [security]=""
    [bad_input]="any_raw_value_acts_only_on_the_entry_it_names"
    [pitfalls]="an_insert_racing_terminate_leaves_no_handle a_duplicate_into_a_terminating_process_leaves_no_handle references_racing_close_never_see_a_dead_object inheritance_racing_close_loses_and_leaks_nothing"
    [lifetime]="a_long_chain_of_processes_is_torn_down_without_overflow"
    [self_handle]=""
    [private_namespaces]="concurrent_creators_of_one_boundary a_closed_alias_stays_unmapped_when_its_handle_value_is_reused"
    [timers]="timers_agree_with_a_model timers_on_the_system_clock a_completion_routine_is_dropped_with_its_timer driver"
    [apcs]="apcs_queued_while_the_thread_waits_run_exactly_once apcs_queued_while_the_thread_exits_are_all_dropped"
)
order=(lib tables duplication inheritance named security bad_input pitfalls lifetime self_handle private_namespaces timers apcs)
if [ $# -gt 0 ]; then order=("$@"); fi

failed=()
run() { # name, flags, cargo target args..., -- test args...
    local name="$1" flags="$2"
    shift 2
    local started=$SECONDS
    if MIRIFLAGS="$flags" cargo +nightly miri test -p kobj "$@" >"$logs/$name.log" 2>&1; then
        echo "miri: $name clean ($((SECONDS - started)) s; $(grep -h '^test result' "$logs/$name.log" | tail -1))"
    else
        echo "miri: $name FAILED ($((SECONDS - started)) s), see $logs/$name.log"
        failed+=("$name")
    fi
}

for name in "${order[@]}"; do
    if [ "$name" = review_fixes ]; then continue; fi
    skip_args=()
    for s in ${skips[$name]:-}; do skip_args+=(--skip "$s"); done
    if [ "$name" = lib ]; then
        run lib "$base_flags" --lib -- "${skip_args[@]}"
    else
        run "$name" "$base_flags" --test "$name" -- "${skip_args[@]}"
    fi
done

if [ $# -eq 0 ] || [[ " $* " == *" review_fixes "* ]]; then
    run review_fixes "$base_flags -Zmiri-preemption-rate=0.1" --test review_fixes
fi

if [ ${#failed[@]} -gt 0 ]; then
    echo "miri: failed: ${failed[*]}"
    exit 1
fi
echo "miri: all clean"
