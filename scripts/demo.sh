#!/bin/sh
# A short tour of sockit on loopback: echo over TCP and UDP, a file
# transfer with half-close, and name lookup.  Every server listens on
# 127.0.0.1 port 0 (a free port the kernel picks) and is stopped at the end.
set -eu

SOCKIT=${SOCKIT:-build/sockit}
work=$(mktemp -d "${TMPDIR:-/tmp}/sockit-demo.XXXXXX")
pids=""

cleanup() {
    for p in $pids; do kill "$p" 2>/dev/null || true; done
    wait 2>/dev/null || true
    rm -rf "$work"
}
trap cleanup EXIT INT TERM

# start NAME ARGS...: run `sockit serve ARGS` in the background and wait
# for its "listening on ... port N" line; sets $port.
start() {
    name=$1
    shift
    "$SOCKIT" serve "$@" -l 127.0.0.1 -p 0 2>"$work/$name.log" &
    pids="$pids $!"
    i=0
    until grep -q '^listening on' "$work/$name.log" 2>/dev/null; do
        i=$((i + 1))
        if [ $i -gt 100 ]; then
            echo "demo: $name server did not start:" >&2
            cat "$work/$name.log" >&2
            exit 1
        fi
        sleep 0.05
    done
    port=$(sed -n 's/^listening on .* port \([0-9]*\) .*/\1/p' "$work/$name.log")
    echo "  \$ sockit serve $* -l 127.0.0.1 -p 0"
    echo "  $(head -n 1 "$work/$name.log")"
}

step() {
    printf '\n== %s\n' "$1"
}

show() {
    echo "  \$ sockit $*"
    "$SOCKIT" "$@" 2>&1 | sed 's/^/    /'
}

step "TCP echo on the thread-per-connection model"
start echo echo -m thread
show echo 127.0.0.1 "$port" "hello, sockit"
echo "  \$ printf 'first line\\nsecond line\\nQ\\n' | sockit echo 127.0.0.1 $port"
printf 'first line\nsecond line\nQ\n' | "$SOCKIT" echo 127.0.0.1 "$port" | sed 's/^/    /'

step "UDP echo, the textbook recvfrom/sendto loop"
start udp echo -u -m iterative
show echo -u 127.0.0.1 "$port" "a datagram"
show echo -u --connected 127.0.0.1 "$port" "over a connected UDP socket"

step "File transfer with half-close (server sends, shuts down its side, reads 'Thank you')"
mkdir -p "$work/root" "$work/down"
head -c 1048576 /dev/urandom >"$work/root/random.bin"
start file file --root "$work/root" -m fork
echo "  \$ sockit get 127.0.0.1 $port random.bin -o random.bin"
"$SOCKIT" get 127.0.0.1 "$port" random.bin -o "$work/down/random.bin" 2>&1 | sed 's/^/    /'
sent=$(sha256sum <"$work/root/random.bin" | cut -d' ' -f1)
got=$(sha256sum <"$work/down/random.bin" | cut -d' ' -f1)
echo "    sha256 sent     $sent"
echo "    sha256 received $got"
[ "$sent" = "$got" ] || { echo "demo: checksums differ" >&2; exit 1; }
echo "  \$ sockit get 127.0.0.1 $port ../etc/passwd     # outside the root"
"$SOCKIT" get 127.0.0.1 "$port" ../etc/passwd -o "$work/down/passwd" 2>&1 | sed 's/^/    /' || true
sleep 0.2
echo "  server log:"
sed 's/^/    /' "$work/file.log"

step "Names and byte order"
show lookup localhost
show lookup 127.0.0.1
show addr 127.0.0.1:7

step "Done: every server is stopped"
