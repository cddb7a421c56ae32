#!/bin/bash
# tests/run.sh [FILTER...] - run the unit tests (cmocka binaries in
# $BUILD/tests/test_*) and the end-to-end scripts (tests/e2e/*.sh).
#
# A test is named unit/test_x or e2e/name; with FILTERs, only tests whose name
# contains one of them run (`tests/run.sh unit`, `tests/run.sh e2e/seed ipam`).
# Prints one line per test case as it goes and, as the very last line,
# `N passed, N failed, N skipped`. Exits 1 on any failure.
#
# Environment: BUILD (default build), PLUMBD (binary for e2e), TEST_WRAPPER
# (e.g. valgrind command prefixing unit binaries), TEST_SKIP (unit test names
# not to run, e.g. under valgrind), UNIT_TIMEOUT / E2E_TIMEOUT in seconds.
set -uo pipefail

cd "$(dirname "$0")/.." || exit 1
ROOT=$PWD
BUILD=${BUILD:-build}
export PLUMBD=${PLUMBD:-$ROOT/plumbd}
# Every lab namespace of this run starts with this prefix (see tests/lib/lab.sh).
export PLUMBD_TEST_PREFIX="pt$$-"
# Every daemon of the end-to-end tests checks its memos (validated and
# converged pods) against a full validation and plan, pass by pass, and
# aborts on a difference.
export PLUMBD_MEMO_CHECK=1
UNIT_TIMEOUT=${UNIT_TIMEOUT:-300}
E2E_TIMEOUT=${E2E_TIMEOUT:-300}
TEST_WRAPPER=${TEST_WRAPPER:-}
TEST_SKIP=${TEST_SKIP:-}

passed=0 failed=0 skipped=0
failures=()
LOG=$(mktemp -d "${TMPDIR:-/tmp}/plumbd-run.XXXXXX")
trap 'rm -rf -- "$LOG"' EXIT

wanted() { # NAME
    [ $# -gt 0 ] || return 1
    local name=$1 f
    shift
    [ ${#FILTERS[@]} -eq 0 ] && return 0
    for f in "${FILTERS[@]}"; do
        case $name in *"$f"*) return 0 ;; esac
    done
    return 1
}
FILTERS=("$@")

pass_line() { echo "ok - $1"; passed=$((passed + 1)); }
fail_line() { echo "not ok - $1"; failed=$((failed + 1)); failures+=("$1"); }
skip_line() { echo "skip - $1"; skipped=$((skipped + 1)); }
show_tail() { [ -s "$1" ] && tail -n "${2:-20}" "$1" | sed 's/^/#   /'; return 0; }

# ---- unit tests: cmocka with TAP output -------------------------------------
# TAP lines: "ok N - name", "not ok N - name", "not ok N # SKIP name",
# "1..N" per group, "# ..." diagnostics.
run_unit() { # BIN
    local bin=$1 name="unit/${1##*/}" line planned=0 seen=0 nfail=0 rc
    local out=$LOG/${bin##*/}.out
    : >"$out"
    while IFS= read -r line; do
        printf '%s\n' "$line" >>"$out"
        case $line in
            1..*) planned=$((planned + ${line#1..})) ;;
            "not ok "*"# SKIP"*)
                seen=$((seen + 1)); skip_line "$name: ${line##*# SKIP }" ;;
            "not ok "*)
                seen=$((seen + 1)); nfail=$((nfail + 1))
                fail_line "$name: ${line#not ok * - }" ;;
            "ok "*)
                seen=$((seen + 1)); pass_line "$name: ${line#ok * - }" ;;
            "# not ok - "* | "# ok - "*) ;; # group summaries
            "#"*) [ "$nfail" -gt 0 ] && echo "#   ${line#\# }" ;;
        esac
    done < <(cd "$ROOT" && CMOCKA_MESSAGE_OUTPUT=TAP timeout -k 5 "$UNIT_TIMEOUT" $TEST_WRAPPER "$bin" 2>&1)
    wait $!
    rc=$?
    if [ "$seen" -lt "$planned" ]; then
        fail_line "$name: $((planned - seen)) of $planned test(s) did not report (exit $rc)"
        show_tail "$out"
    elif [ "$rc" -ne 0 ] && [ "$nfail" -eq 0 ]; then
        if [ "$rc" -eq 124 ]; then
            fail_line "$name: timed out after ${UNIT_TIMEOUT}s"
        else
            fail_line "$name: exited $rc${TEST_WRAPPER:+ under ${TEST_WRAPPER%% *}}"
        fi
        show_tail "$out"
    fi
}

# ---- end-to-end scripts ------------------------------------------------------
run_e2e() { # SCRIPT
    local script=$1 base=${1##*/} line nfail=0 nlines=0 rc
    local name="e2e/${base%.sh}" err=$LOG/$base.err
    while IFS= read -r line; do
        case $line in
            "ok - "*) nlines=$((nlines + 1)); pass_line "$name: ${line#ok - }" ;;
            "not ok - "*) nlines=$((nlines + 1)); nfail=$((nfail + 1)); fail_line "$name: ${line#not ok - }" ;;
            "skip - "*) nlines=$((nlines + 1)); skip_line "$name: ${line#skip - }" ;;
            "#"*) echo "$line" ;;
            *) [ -n "${VERBOSE:-}" ] && echo "#   $line" ;;
        esac
    done < <(timeout -k 10 "$E2E_TIMEOUT" bash "$script" 2>"$err")
    wait $!
    rc=$?
    if [ "$rc" -ne 0 ] && [ "$nfail" -eq 0 ]; then
        if [ "$rc" -eq 124 ]; then
            fail_line "$name: timed out after ${E2E_TIMEOUT}s"
        else
            fail_line "$name: exited $rc without reporting a failure"
        fi
        show_tail "$err"
    elif [ "$nfail" -gt 0 ]; then
        show_tail "$err" 10
    elif [ "$nlines" -eq 0 ]; then
        fail_line "$name: reported no results"
        show_tail "$err"
    fi
}

shopt -s nullglob
case $BUILD in /*) BUILD_DIR=$BUILD ;; *) BUILD_DIR=$ROOT/$BUILD ;; esac
units=("$BUILD_DIR"/tests/test_*)
scripts=("$ROOT"/tests/e2e/*.sh)

for bin in "${units[@]}"; do
    [ -x "$bin" ] && [ -f "$bin" ] || continue
    case $bin in *.c | *.o | *.d) continue ;; esac
    [ -f "$ROOT/tests/unit/${bin##*/}.c" ] || continue # stale binary, source gone
    wanted "unit/${bin##*/}" || continue
    if [[ " $TEST_SKIP " == *" ${bin##*/} "* ]]; then
        skip_line "unit/${bin##*/} (excluded: TEST_SKIP)"
        continue
    fi
    run_unit "$bin"
done
if [ ${#units[@]} -eq 0 ] && wanted "unit/"; then
    echo "# no unit test binaries in $BUILD/tests (make unit-bins)"
fi

for script in "${scripts[@]}"; do
    base=${script##*/}
    wanted "e2e/${base%.sh}" || continue
    run_e2e "$script"
done

# No namespace of this run may survive it.
if command -v ip >/dev/null; then
    left=$(ip netns list 2>/dev/null | awk '{ print $1 }' | grep -F -- "$PLUMBD_TEST_PREFIX" | grep -- "^$PLUMBD_TEST_PREFIX" || true)
    if [ -n "$left" ]; then
        fail_line "cleanup: network namespaces left behind: $(echo $left)"
        for ns in $left; do ip netns delete "$ns" 2>/dev/null; done
    fi
fi

if [ ${#failures[@]} -gt 0 ]; then
    echo "# failed:"
    printf '#   %s\n' "${failures[@]}"
fi
echo "$passed passed, $failed failed, $skipped skipped"
[ "$failed" -eq 0 ]
