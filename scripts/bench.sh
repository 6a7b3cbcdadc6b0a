#!/bin/sh
# SPDX-License-Identifier: BSD-2-Clause
# `make bench`: sockit's server models against other echo servers on this
# machine, then BENCHMARKS.md rewritten from the results.
#
# What it runs (everything on 127.0.0.1; servers on one CPU, the load
# generator on another):
#   1. sockit compare, TCP, the default matrix (1, 50, 500 connections x
#      128 B and 4 KiB x depth 1 and 16), every model and peer;
#   2. sockit compare --udp: the UDP models against the textbook loop;
#   3. `sockit get` of a 1 GiB file from `sockit serve file` against one
#      iperf3 stream;
#   3b. `sockit bench --stream` (to discard, -R from chargen, -P 4) against
#      iperf3 (-c, -R, -P 4), STREAM_ROUNDS interleaved rounds;
#   3c. the uring model with each io_uring technique turned off in turn
#      (scripts/bench_uring.py, URING_ROUNDS rounds: about 6 minutes);
#   3d. echo's splice path against copying (--no-splice) on epoll, at the
#      12 points of the matrix (scripts/bench_uring.py, SPLICE_ROUNDS
#      rounds: about 3 minutes);
#   3e. what a message costs, taken apart: system calls, context switches
#      and TCP segments per message of epoll, uring and the textbook loop
#      (scripts/bench_anatomy.py, ANATOMY_ROUNDS rounds: about 4 minutes);
#   4. a perf profile of the best model, when perf can sample here.
# The compare results carry the server's CPU time per message
# (server_cpu_us_per_msg, the efficiency figure beside msgs/s and p99) and
# the load generator's own CPU (generator_cpu_pct, generator_cpu_us_per_msg;
# generator_saturated marks the points where it, not the server, set the
# pace).
#
# Time: the TCP matrix is 12 points x 16 servers x REPEAT runs, each run
# DURATION seconds plus ~0.4 s to start and stop the server.  At DURATION=1
# and REPEAT=3 (the defaults here) that is about 15 minutes on a 2-core
# machine (ncat needs over 30 s to accept 500 clients and is cut off once
# per point), the UDP matrix about 4, the rest about 1: some 20 minutes in
# all with the stream comparison (3 modes x 2 tools x 3 rounds of 2 s,
# under a minute), plus up to 3 minutes waiting for the machine to be idle.  The
# compare default of 2 s per run would take about 35.  Override with
# DURATION=2 REPEAT=5 for steadier figures, or smaller for a
# quick look; COMPARE_ARGS adds options to both compare runs (a smaller
# matrix: COMPARE_ARGS="--conns 1,50 --sizes 128").  Results go to
# bench/results/ and BENCHMARKS.md (RESULTS=DIR and REPORT=FILE elsewhere, for
# a trial run; STREAM_DURATION, STREAM_ROUNDS for the stream comparison).
set -eu

cd "$(dirname "$0")/.."
MAKE=${MAKE:-make}
BUILD=${BUILD:-build}
DURATION=${DURATION:-1}
REPEAT=${REPEAT:-3}
UDP_DURATION=${UDP_DURATION:-1}
RESULTS=${RESULTS:-bench/results}
REPORT=${REPORT:-BENCHMARKS.md}
say() { echo "bench: $*"; }

# ---- packages: installed when missing and we are root ----------------------
missing=""
[ -e /usr/include/uv.h ] || missing="$missing libuv1-dev"
[ -e /usr/include/event2/event.h ] || missing="$missing libevent-dev"
command -v go >/dev/null || missing="$missing golang-go"
command -v socat >/dev/null || missing="$missing socat"
command -v ncat >/dev/null || missing="$missing ncat"
command -v iperf3 >/dev/null || missing="$missing iperf3"
command -v gnuplot >/dev/null || missing="$missing gnuplot-nox"
command -v perf >/dev/null || missing="$missing linux-perf"
command -v python3 >/dev/null || missing="$missing python3"
if [ -n "$missing" ]; then
    if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
        say "installing$missing"
        export DEBIAN_FRONTEND=noninteractive
        apt-get update -qq
        # shellcheck disable=SC2086
        apt-get install -y -qq --no-install-recommends $missing >/dev/null
    else
        say "not installed:$missing (not root, or no apt-get); those peers are skipped"
    fi
fi
command -v python3 >/dev/null || { say "python3 is needed to write BENCHMARKS.md"; exit 1; }

# ---- build --------------------------------------------------------------------
$MAKE all peers

mkdir -p "$RESULTS"
work=$(mktemp -d "${TMPDIR:-/tmp}/sockit-bench.XXXXXX")
pids=""
cleanup() {
    for p in $pids; do kill "$p" 2>/dev/null || true; done
    wait 2>/dev/null || true
    rm -rf "$work"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# Measure a private copy: a `make` elsewhere while this runs (the tests
# rebuild build/sockit) must not swap the binary between two runs.
cp "$BUILD/sockit" "$work/sockit"
SOCKIT=$work/sockit
PEERS="--peer-dir $BUILD/peers"

ncpu=$(nproc)
if [ "$ncpu" -ge 2 ]; then
    srv_cpu="taskset -c 0"
    cli_cpu="taskset -c 1"
else
    srv_cpu=""
    cli_cpu=""
fi

# ---- the machine, and how busy it is -------------------------------------------
# Other work on the machine skews every figure; wait (up to IDLE_WAIT
# seconds, default 180) for the 1-minute load average to settle below
# 0.5, and record it.
i=0
while [ "$(awk '{print ($1 < 0.5)}' /proc/loadavg)" != 1 ] && [ $i -lt $(( ${IDLE_WAIT:-180} / 5 )) ]; do
    [ $i = 0 ] && say "waiting for the machine to be idle (load $(cut -d' ' -f1-3 /proc/loadavg))"
    sleep 5
    i=$((i + 1))
done
{
    echo "cpu=$(lscpu | sed -n 's/^Model name: *//p' | head -n 1)"
    echo "cores=$ncpu"
    echo "kernel=$(uname -sr)"
    echo "os=$(. /etc/os-release && echo "$PRETTY_NAME")"
    echo "date=$(date -u '+%Y-%m-%d %H:%M UTC')"
    echo "load_start=$(cut -d' ' -f1-3 /proc/loadavg)"
    echo "duration=$DURATION"
    echo "repeat=$REPEAT"
    echo "udp_duration=$UDP_DURATION"
    echo "stream_duration=${STREAM_DURATION:-2}"
    echo "stream_rounds=${STREAM_ROUNDS:-3}"
    echo "cc=$(${CC:-cc} --version | head -n 1)"
    echo "libuv=$(dpkg-query -W -f '${Version}' libuv1-dev 2>/dev/null || echo none)"
    echo "libevent=$(dpkg-query -W -f '${Version}' libevent-dev 2>/dev/null || echo none)"
    echo "node=$(node --version 2>/dev/null || echo none)"
    echo "go=$(go version 2>/dev/null | cut -d' ' -f3 || echo none)"
    echo "socat=$(socat -V 2>/dev/null | sed -n 's/^socat version \([^ ]*\).*/\1/p' || echo none)"
    echo "ncat=$(ncat --version 2>&1 | sed -n 's/^Ncat: Version \([^ ]*\).*/\1/p' || echo none)"
    echo "iperf3=$(iperf3 --version 2>/dev/null | head -n 1 | cut -d' ' -f2 || echo none)"
    echo "peers_nodelay=1"   # every peer in bench/peers/ sets TCP_NODELAY
} >"$RESULTS/machine.txt"
cat "$RESULTS/machine.txt"
start=$(date +%s)

# SKIP_COMPARE=1 keeps the comparisons already in bench/results/ (the
# long part) and redoes the rest and the report.
if [ "${SKIP_COMPARE:-0}" = 1 ] && [ -s "$RESULTS/compare-tcp.json" ] && [ -s "$RESULTS/compare-udp.json" ]; then
    compare_date=$(sed -n 's/^date=//p' "$RESULTS/machine.txt.compare" 2>/dev/null || echo 'an earlier run')
    say "SKIP_COMPARE=1: keeping the comparisons of $compare_date"
    echo "compare_date=$compare_date" >>"$RESULTS/machine.txt"
else
# ---- 1. TCP echo: every model and peer over the default matrix -----------------
say "sockit compare --duration $DURATION --repeat $REPEAT"
# shellcheck disable=SC2086
"$SOCKIT" compare $PEERS --duration "$DURATION" --repeat "$REPEAT" ${COMPARE_ARGS:-} \
    --json "$RESULTS/compare-tcp.json" --markdown "$RESULTS/compare-tcp.md" \
    >"$RESULTS/compare-tcp.txt" 2>"$RESULTS/compare-tcp.log" || say "compare (TCP) exited with $?"
tail -n 20 "$RESULTS/compare-tcp.txt"

# ---- 2. UDP echo: the UDP models against the textbook recvfrom/sendto loop ---------
say "sockit compare --udp --duration $UDP_DURATION --repeat $REPEAT"
# shellcheck disable=SC2086
"$SOCKIT" compare $PEERS --udp --conns 1,50 --sizes 128,1024 --depths 1,16 ${COMPARE_ARGS:-} \
    --duration "$UDP_DURATION" --repeat "$REPEAT" \
    --json "$RESULTS/compare-udp.json" --markdown "$RESULTS/compare-udp.md" \
    >"$RESULTS/compare-udp.txt" 2>"$RESULTS/compare-udp.log" || say "compare (UDP) exited with $?"
tail -n 12 "$RESULTS/compare-udp.txt"
cp "$RESULTS/machine.txt" "$RESULTS/machine.txt.compare"
fi

# ---- 3. bulk transfer: sockit get of 1 GiB against one iperf3 stream -----------------
# wait_line FILE PATTERN: until a line of FILE matches (10 s at most).
wait_line() {
    n=0
    until grep -q "$2" "$1" 2>/dev/null; do
        n=$((n + 1))
        [ $n -le 200 ] || { say "no '$2' in $1:"; cat "$1" >&2; return 1; }
        sleep 0.05
    done
}
# A TCP port free right now on 127.0.0.1, for iperf3.
free_port() {
    python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}

: >"$RESULTS/transfer.txt"
say "sockit get of a 1 GiB file (read + send, and --sendfile) vs iperf3, interleaved, 3 rounds"
dd if=/dev/zero of="$work/1g.bin" bs=1M count=1024 status=none
cat "$work/1g.bin" >/dev/null # in the page cache before the first run
# start_file NAME ARGS...: a file server on CPU 0; its port in $fport.
# (Not called as $(start_file ...): the server would hold the command
# substitution's pipe open, and the shell would wait for it for ever.)
start_file() {
    name=$1
    shift
    $srv_cpu "$SOCKIT" serve file "$work/1g.bin" -l 127.0.0.1 -p 0 -q "$@" 2>"$work/$name.log" &
    pids="$pids $!"
    wait_line "$work/$name.log" '^listening on'
    fport=$(sed -n 's/^listening on .* port \([0-9]*\) .*/\1/p' "$work/$name.log")
}
start_file file-copy
copy_port=$fport
start_file file-sendfile --sendfile -m epoll # uring cannot sendfile
sendfile_port=$fport
# get_run LABEL PORT RUN: one get; its summary line into transfer.txt.
get_run() {
    # get's own summary: "received NAME: BYTES bytes in SEC s (RATE MB/s)"
    if $cli_cpu "$SOCKIT" get 127.0.0.1 "$2" 1g.bin -o - 2>"$work/get.err" >/dev/null; then
        sed -n "s/.*: \([0-9]*\) bytes in \([0-9.]*\) s.*/$1 run=$3 bytes=\1 seconds=\2/p" \
            "$work/get.err" >>"$RESULTS/transfer.txt"
    else
        say "sockit get failed: $(cat "$work/get.err")"
        echo "$1 run=$3 failed: $(cat "$work/get.err")" >>"$RESULTS/transfer.txt"
    fi
}
# A one-shot iperf3 server on a free port, pinned like ours: sets iport
# and ipid, and returns once it listens.
start_iperf3_server() {
    iport=$(free_port)
    $srv_cpu iperf3 -s -1 --forceflush -B 127.0.0.1 -p "$iport" >"$work/iperf-s.log" 2>&1 &
    ipid=$!
    pids="$pids $ipid"
    wait_line "$work/iperf-s.log" 'Server listening'
}
for run in 1 2 3; do
    get_run get "$copy_port" "$run"
    get_run getsf "$sendfile_port" "$run"
    if command -v iperf3 >/dev/null; then
        start_iperf3_server
        if $cli_cpu iperf3 -c 127.0.0.1 -p "$iport" -n 1G -J >"$RESULTS/iperf3-$run.json" 2>&1; then
            echo "iperf3 run=$run bps=$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["end"]["sum_received"]["bits_per_second"])' "$RESULTS/iperf3-$run.json")" \
                >>"$RESULTS/transfer.txt"
        else
            say "iperf3 failed (see $RESULTS/iperf3-$run.json)"
            echo "iperf3 run=$run failed" >>"$RESULTS/transfer.txt"
        fi
        wait "$ipid" 2>/dev/null || true
    elif [ "$run" = 1 ]; then
        echo "iperf3 missing" >>"$RESULTS/transfer.txt"
    fi
done
cat "$RESULTS/transfer.txt"

# ---- 3b. throughput: sockit bench --stream against iperf3 --------------------------
# Three modes, each as sockit and as iperf3, interleaved over STREAM_ROUNDS
# rounds of STREAM_DURATION seconds: one stream to `sockit serve discard`
# (iperf3 -c), -R from `sockit serve chargen` (iperf3 -c -R), -P 4 to
# discard (iperf3 -c -P 4).  Each run's JSON goes to
# bench/results/stream-{sockit,iperf3}-MODE-ROUND.json (sockit: the final
# JSON line, with its own cpu_user_s/cpu_sys_s; iperf3: its -J output,
# with cpu_utilization_percent for both ends).
STREAM_DURATION=${STREAM_DURATION:-2}
STREAM_ROUNDS=${STREAM_ROUNDS:-3}
rm -f "$RESULTS"/stream-*.json
say "sockit bench --stream vs iperf3 (send, -R, -P 4), $STREAM_ROUNDS rounds of $STREAM_DURATION s"
# start_sink NAME SERVICE: `sockit serve SERVICE` on CPU 0; its port in $sport.
start_sink() {
    $srv_cpu "$SOCKIT" serve "$2" -l 127.0.0.1 -p 0 -q 2>"$work/$1.log" &
    pids="$pids $!"
    wait_line "$work/$1.log" '^listening on'
    sport=$(sed -n 's/^listening on .* port \([0-9]*\) .*/\1/p' "$work/$1.log")
}
# iperf3 -t takes whole seconds: STREAM_DURATION rounded up, at least 1.
iperf_t=$(awk -v d="$STREAM_DURATION" 'BEGIN { t = int(d); if (t < d) t++; if (t < 1) t = 1; print t }')
start_sink discard discard
discard_port=$sport
start_sink chargen chargen
chargen_port=$sport
round=1
while [ "$round" -le "$STREAM_ROUNDS" ]; do
    for mode in send reverse parallel; do
        case $mode in
            send) port=$discard_port; sargs=""; iargs="" ;;
            reverse) port=$chargen_port; sargs="-R"; iargs="-R" ;;
            parallel) port=$discard_port; sargs="-P 4"; iargs="-P 4" ;;
        esac
        # shellcheck disable=SC2086
        if $cli_cpu "$SOCKIT" bench 127.0.0.1 "$port" --stream $sargs -D "$STREAM_DURATION" --json \
                >"$work/stream.out" 2>"$work/stream.err"; then
            grep '"type":"final"' "$work/stream.out" | tail -n 1 \
                >"$RESULTS/stream-sockit-$mode-$round.json"
        else
            say "sockit bench --stream $sargs failed: $(cat "$work/stream.err")"
        fi
        if command -v iperf3 >/dev/null; then
            start_iperf3_server
            # shellcheck disable=SC2086
            $cli_cpu iperf3 -c 127.0.0.1 -p "$iport" -t "$iperf_t" $iargs -J \
                >"$RESULTS/stream-iperf3-$mode-$round.json" 2>&1 \
                || say "iperf3 $iargs failed (see $RESULTS/stream-iperf3-$mode-$round.json)"
            wait "$ipid" 2>/dev/null || true
        fi
    done
    round=$((round + 1))
done

# ---- 3c. the io_uring model's techniques, one at a time -----------------------------
# scripts/bench_uring.py: the default uring server (twice: the noise), then
# with each technique off (SOCKIT_URING=no-NAME), with receive bundles on,
# with zero-copy sends on, and the textbook epoll loop, at the issue's six
# points and the three at 4 KiB x 16 (where echo in place and zero-copy
# have bytes to save), URING_ROUNDS rotated rounds of 1 s.
URING_ROUNDS=${URING_ROUNDS:-3}
rm -f "$RESULTS/uring-features.md" "$RESULTS/uring-features.json"
if "$SOCKIT" serve --model list 2>/dev/null | awk '$1 == "uring"' | grep -qv unavailable; then
    say "the uring model with each io_uring technique off, $URING_ROUNDS rounds"
    python3 scripts/bench_uring.py --sockit "$SOCKIT" --peer-dir "$BUILD/peers" \
        --rounds "$URING_ROUNDS" --json "$RESULTS/uring-features.json" \
        --points 1x128x1,50x128x1,500x128x1,50x4096x1,50x128x16,500x128x16,1x4096x16,50x4096x16,500x4096x16 \
        >"$RESULTS/uring-features.md" 2>"$work/uring-features.log" \
        || { say "bench_uring.py failed:"; tail -n 5 "$work/uring-features.log" >&2; }
    cat "$RESULTS/uring-features.md"
else
    say "the uring model cannot run here: no io_uring technique measured"
fi

# ---- 3d. echo's splice path against copying -----------------------------------------
# The same rotated rounds (scripts/bench_uring.py --server): epoll copying
# through user memory (--no-splice, twice: the noise), epoll as it runs by
# default (splice), and the textbook epoll loop, at every point of the
# TCP matrix.
SPLICE_ROUNDS=${SPLICE_ROUNDS:-3}
serve_epoll="serve echo -m epoll -l 127.0.0.1 -p 0 -q"
say "echo with splice against copying, $SPLICE_ROUNDS rounds"
python3 scripts/bench_uring.py --sockit "$SOCKIT" --peer-dir "$BUILD/peers" \
    --rounds "$SPLICE_ROUNDS" --json "$RESULTS/splice.json" \
    --points 1x128x1,50x128x1,500x128x1,1x4096x1,50x4096x1,500x4096x1,1x128x16,50x128x16,500x128x16,1x4096x16,50x4096x16,500x4096x16 \
    --server "copy=$serve_epoll --no-splice" --server "copy again=$serve_epoll --no-splice" \
    --server "splice=$serve_epoll" --server "epoll_echo=$(cd "$BUILD/peers" && pwd)/epoll_echo 0" \
    >"$RESULTS/splice.md" 2>"$work/splice.log" \
    || { say "bench_uring.py (splice) failed:"; tail -n 5 "$work/splice.log" >&2; }
cat "$RESULTS/splice.md"

# ---- 3e. what a message costs, taken apart -----------------------------------------
# scripts/bench_anatomy.py: epoll (splice and --no-splice), uring and the
# textbook loop at every point, with perf stat's system calls and context
# switches and /proc/net/snmp's segments per message.
ANATOMY_ROUNDS=${ANATOMY_ROUNDS:-3}
rm -f "$RESULTS/anatomy.md" "$RESULTS/anatomy.json"
say "what a message costs, taken apart, $ANATOMY_ROUNDS rounds"
python3 scripts/bench_anatomy.py --sockit "$SOCKIT" --peer-dir "$BUILD/peers" \
    --rounds "$ANATOMY_ROUNDS" --json "$RESULTS/anatomy.json" \
    >"$RESULTS/anatomy.md" 2>"$work/anatomy.log" \
    || { say "bench_anatomy.py failed:"; tail -n 5 "$work/anatomy.log" >&2; }
cat "$RESULTS/anatomy.md"

# ---- 4. where the best model spends its time, if perf can sample here ---------------
# Hardware counters are often missing in a VM; cpu-clock sampling still works.
perf_note="perf is not installed"
if command -v perf >/dev/null; then
    if perf stat -e instructions true 2>&1 | grep -q 'not supported'; then
        perf_note="hardware counters not available (perf stat -e instructions: not supported); profile sampled with cpu-clock"
    else
        perf_note="hardware counters available"
    fi
    best=$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["best_model"] or "")' "$RESULTS/compare-tcp.json" 2>/dev/null || true)
    best=${best:-epoll}
    $srv_cpu "$SOCKIT" serve echo -m "$best" -l 127.0.0.1 -p 0 -q 2>"$work/perf-srv.log" &
    spid=$!
    pids="$pids $spid"
    wait_line "$work/perf-srv.log" '^listening on'
    pport=$(sed -n 's/^listening on .* port \([0-9]*\) .*/\1/p' "$work/perf-srv.log")
    perf record -e cpu-clock -g -p "$spid" -o "$work/perf.data" -- sleep 4 \
        >"$work/perf-rec.log" 2>&1 &
    rpid=$!
    sleep 0.3
    $cli_cpu "$SOCKIT" bench 127.0.0.1 "$pport" -c 50 -s 4096 -d 16 -D 3 >/dev/null 2>&1 || true
    wait "$rpid" || true
    {
        echo "model=$best"
        echo "load=sockit bench -c 50 -s 4096 -d 16 -D 3 (server on CPU 0, bench on CPU 1)"
        echo "note=$perf_note"
        echo "-- by object"
        perf report -i "$work/perf.data" --stdio --no-children --sort dso -g none 2>/dev/null \
            | grep -E '^ +[0-9.]+%' | head -n 8
        echo "-- by function"
        perf report -i "$work/perf.data" --stdio --no-children --sort dso,sym -g none 2>/dev/null \
            | grep -E '^ +[0-9.]+%' | head -n 25
    } >"$RESULTS/perf.txt"
    kill "$spid" 2>/dev/null || true
    wait "$spid" 2>/dev/null || true
else
    echo "note=$perf_note" >"$RESULTS/perf.txt"
fi

end=$(date +%s)
echo "load_end=$(cut -d' ' -f1-3 /proc/loadavg)" >>"$RESULTS/machine.txt"
echo "elapsed_s=$((end - start))" >>"$RESULTS/machine.txt"

# ---- BENCHMARKS.md and the chart -------------------------------------------------------
python3 scripts/bench_report.py "$RESULTS" "$REPORT"
if command -v gnuplot >/dev/null; then
    gnuplot "$RESULTS/chart.gp" && say "wrote $RESULTS/chart.png"
else
    say "gnuplot missing: no chart"
fi
say "wrote $REPORT ($(( (end - start) / 60 )) min $(( (end - start) % 60 )) s of measuring)"
