#!/bin/sh
# csupport/test.sh -- builds and tests the C side of awake with no Go:
# the reference executor (csupport/), the example plugins and runner
# (examples/c/) and the test plugins (testdata/cplugins/).
#
#   csupport/test.sh [build-dir]          (default build-dir: build/c)
#
# Environment:
#   CC       compiler(s) to use, space-separated ("gcc", "clang",
#            "aarch64-linux-gnu-gcc").  Unset: gcc and clang, whichever are
#            installed (cc if neither).  Each gets build-dir/<name>/.
#   CFLAGS   extra flags for every compile and link, e.g.
#            CFLAGS=-fsanitize=address,undefined
#   NORUN=1  build only (cross compilers)
#
# Every file is compiled with -std=c11 -Wall -Wextra -Werror -pedantic.
# Sources define _POSIX_C_SOURCE / _GNU_SOURCE themselves where they need
# POSIX or GNU extensions, so no -D is needed here.
# Exits non-zero on the first failing build or on any failed check.
set -eu

ROOT=$(cd "$(dirname "$0")/.." && pwd)
OUT=${1:-build/c}
case $OUT in /*) ;; *) OUT=$PWD/$OUT ;; esac

if [ -n "${CC:-}" ]; then
    COMPILERS=$CC
else
    COMPILERS=
    for c in gcc clang; do
        command -v "$c" >/dev/null 2>&1 && COMPILERS="$COMPILERS $c"
    done
    [ -n "$COMPILERS" ] || COMPILERS=cc
fi

WARN="-std=c11 -Wall -Wextra -Werror -pedantic"
OPT="-O2 -g"
INC="-I$ROOT/include -I$ROOT/csupport -I$ROOT/examples/c"
EXTRA=${CFLAGS:-}
LIBS="-pthread -ldl"

FAILED=0
fail() {
    echo "FAIL: $*" >&2
    FAILED=1
}

# build <cc> <dir>: compiles everything, in parallel, into <dir>.
build() {
    cc=$1 d=$2
    mkdir -p "$d"
    pids=
    plugin() { # plugin <out.so> <src> [flags...]
        o=$1 s=$2
        shift 2
        # shellcheck disable=SC2086
        $cc $WARN $OPT $INC $EXTRA -fPIC -shared "$@" -o "$d/$o" "$s" $LIBS &
        pids="$pids $!"
    }
    # Every examples/c/*.c that has no main() is a plugin (as in
    # scripts/build-c), so a new example is compiled here too.
    for src in "$ROOT"/examples/c/*.c; do
        grep -Eq '^int[[:space:]]+main[[:space:]]*\(' "$src" && continue
        plugin "$(basename "$src" .c).so" "$src"
    done
    plugin testkit.so "$ROOT/testdata/cplugins/testkit.c"
    B="$ROOT/testdata/cplugins/badplugin.c"
    plugin bad_ok.so "$B"
    plugin bad_major.so "$B" -DBAD_MAJOR
    plugin bad_canary.so "$B" -DBAD_CANARY
    plugin bad_dup.so "$B" -DDUP_EXPORT
    plugin bad_nullmake.so "$B" -DNULL_MAKE
    plugin bad_refuses.so "$B" -DENTRY_REFUSES
    plugin bad_noentry.so "$B" -DNO_ENTRY
    # shellcheck disable=SC2086
    $cc $WARN $OPT $INC $EXTRA -o "$d/run" "$ROOT/examples/c/run.c" \
        "$ROOT/csupport/awake_ref.c" $LIBS &
    pids="$pids $!"
    # shellcheck disable=SC2086
    $cc $WARN $OPT $INC $EXTRA -o "$d/ref_test" "$ROOT/csupport/ref_test.c" \
        "$ROOT/csupport/awake_ref.c" $LIBS &
    pids="$pids $!"
    ok=0
    for p in $pids; do wait "$p" || ok=1; done
    return $ok
}

# expect <name> <want-exit> <stdout-pattern (grep -E)> -- <command...>
expect() {
    name=$1 want=$2 pat=$3
    shift 4
    set +e
    "$@" >"$D/out.txt" 2>"$D/err.txt"
    got=$?
    set -e
    if [ "$got" -ne "$want" ]; then
        fail "$CCNAME $name: exit $got, want $want"
        sed 's/^/    /' "$D/out.txt" "$D/err.txt" >&2
        return 0
    fi
    if ! grep -Eq -- "$pat" "$D/out.txt" "$D/err.txt"; then
        fail "$CCNAME $name: output does not match /$pat/"
        sed 's/^/    /' "$D/out.txt" "$D/err.txt" >&2
        return 0
    fi
    first=$(cat "$D/out.txt" "$D/err.txt" | grep -E -m 1 -- "$pat")
    printf '  ok  %-22s %s\n' "$name" "$first"
}

run_tests() {
    R="$D/run"
    echo "== $CCNAME: ref_test"
    if ! "$D/ref_test" "$D"; then fail "$CCNAME ref_test"; fi

    echo "== $CCNAME: examples through examples/c/run"
    expect list 0 '^  ticks ' -- "$R" "$D/timer.so"
    expect sleep 0 '^slept 30\.0 ms \(late by [0-9]+ us\)$' -- \
        "$R" "$D/timer.so" sleep 30ms
    expect sleep_us 0 '^slept 0\.1 ms \(late by [0-9]+ us\)$' -- \
        "$R" "$D/timer.so" sleep 100us
    expect ticks 0 '^3 ticks of 5\.0 ms in [0-9.]+ ms' -- \
        "$R" "$D/timer.so" ticks 3 5ms
    expect sleep_cancel 3 '^cancelled$' -- \
        "$R" --cancel-after 5ms "$D/timer.so" sleep 10s
    expect sleep_badarg 2 'expected one duration' -- \
        "$R" "$D/timer.so" sleep soon
    expect query 0 '^result of "SELECT 42" after 30 ms$' -- \
        "$R" "$D/pending_request.so" query 'SELECT 42|30'
    expect query_error 1 'failed with code 1: query "DELETE x" failed' -- \
        "$R" "$D/pending_request.so" query 'DELETE x|5'
    expect query_cancel 3 '^cancelled$' -- \
        "$R" --cancel-after 10ms "$D/pending_request.so" query 'SELECT 1|10s'
    expect join_timers 0 '^joined 3 timers in [0-9.]+ ms \([0-9]+ child polls, shared waker\)$' -- \
        "$R" "$D/join.so" join_timers 10 20 30
    expect join_wakers 0 '^joined 3 timers in [0-9.]+ ms \(6 child polls, one waker per child\)$' -- \
        "$R" "$D/join.so" join_timers_wakers 10 20 30
    expect echo_selftest 0 '^served 8 connections, 327680 bytes; client: 8 connections x 10 messages x 4096 bytes echoed and verified \(327680 bytes\)$' -- \
        "$R" "$D/echo.so" echo_selftest 8 10 4096
    if [ -f "$D/await_go.so" ]; then
        expect ask_upper 0 '^go said: HELLO WORLD$' -- \
            "$R" "$D/await_go.so" ask_go upper hello world
        expect ask_sleep_upper 0 '^go said: LATER$' -- \
            "$R" "$D/await_go.so" ask_go sleep_upper later
        expect ask_missing 1 'no such function; offered: ' -- \
            "$R" "$D/await_go.so" ask_go nope
        expect ask_cancel 3 '^cancelled$' -- \
            "$R" --cancel-after 10ms "$D/await_go.so" ask_go sleep_upper x
    fi
    expect leftover_tasks 0 '^spawned 3$' -- \
        "$R" --stats "$D/testkit.so" spawn_forever 3
    expect deadlock 1 'deadlock: root task' -- \
        "$R" "$D/testkit.so" no_waker
    expect threads 0 '^4 threads x 1000 wakes' -- \
        "$R" "$D/testkit.so" wake_from_threads 4 1000

    # echo_serve and echo_client in two processes: the server picks a port
    # and logs it; the client connects to it.
    "$R" "$D/echo.so" echo_serve 0 3 >"$D/serve.out" 2>"$D/serve.err" &
    spid=$!
    port=
    i=0
    while [ $i -lt 500 ]; do
        port=$(sed -n 's/.*listening on 127\.0\.0\.1:\([0-9][0-9]*\).*/\1/p' \
            "$D/serve.err")
        [ -n "$port" ] && break
        kill -0 "$spid" 2>/dev/null || break
        sleep 0.01
        i=$((i + 1))
    done
    if [ -z "$port" ]; then
        fail "$CCNAME echo_serve did not report its port"
        cat "$D/serve.err" >&2
        kill "$spid" 2>/dev/null || true
    else
        expect echo_client 0 '^client: 3 connections x 5 messages x 1000 bytes echoed and verified \(15000 bytes\)$' -- \
            "$R" "$D/echo.so" echo_client "$port" 3 5 1000
        if ! wait "$spid"; then
            fail "$CCNAME echo_serve exited non-zero"
            cat "$D/serve.err" >&2
        elif ! grep -qx 'served 3 connections, 15000 bytes' "$D/serve.out"; then
            fail "$CCNAME echo_serve output: $(cat "$D/serve.out")"
        else
            printf '  ok  %-22s %s\n' echo_serve "$(cat "$D/serve.out")"
        fi
    fi
}

for CC1 in $COMPILERS; do
    CCNAME=$(basename "$CC1")
    D="$OUT/$CCNAME"
    echo "== $CCNAME: build into $D ${EXTRA:+(CFLAGS=$EXTRA)}"
    if ! build "$CC1" "$D"; then
        fail "$CCNAME build"
        continue
    fi
    if [ "${NORUN:-}" = 1 ]; then
        continue
    fi
    run_tests
done

if [ "$FAILED" -ne 0 ]; then
    echo "csupport/test.sh: FAILED" >&2
    exit 1
fi
echo "csupport/test.sh: all C tests passed ($COMPILERS )"
