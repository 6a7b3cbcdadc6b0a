#!/bin/sh
# SPDX-License-Identifier: BSD-2-Clause
# A short tour of sockit on loopback: echo over TCP and UDP, a file
# transfer with half-close, and name lookup.  Every server listens on
# 127.0.0.1 port 0 (a free port the kernel picks) and is stopped at the end.
# Every command is shown exactly as it runs, quoted for a POSIX shell, from
# the scratch directory the tour works in, so it can be pasted as shown.
set -eu

SOCKIT=${SOCKIT:-build/sockit}
case $SOCKIT in /*) ;; *) SOCKIT=$PWD/$SOCKIT ;; esac
work=$(mktemp -d "${TMPDIR:-/tmp}/sockit-demo.XXXXXX")
cd "$work"
pids=""

cleanup() {
    for p in $pids; do kill "$p" 2>/dev/null || true; done
    wait 2>/dev/null || true
    rm -rf "$work"
}
trap cleanup EXIT INT TERM

# quote ARGS...: the arguments as a shell would need them typed: a word
# with anything but letters, digits and _./:=@%+,- goes in single quotes.
quote() {
    out=
    for a in "$@"; do
        case $a in
        '' | *[!A-Za-z0-9_./:=@%+,-]*) a="'$(printf '%s' "$a" | sed "s/'/'\\\\''/g")'" ;;
        esac
        out="$out${out:+ }$a"
    done
    printf '%s' "$out"
}

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
    printf '  $ sockit serve %s -l 127.0.0.1 -p 0\n' "$(quote "$@")"
    printf '  %s\n' "$(head -n 1 "$work/$name.log")"
}

step() {
    printf '\n== %s\n' "$1"
}

show() {
    printf '  $ sockit %s\n' "$(quote "$@")"
    "$SOCKIT" "$@" 2>&1 | sed 's/^/    /'
}

step "TCP echo on the thread-per-connection model"
start echo echo -m thread
show echo 127.0.0.1 "$port" "hello, sockit"
printf '  $ %s | sockit echo 127.0.0.1 %s\n' "printf 'first line\\nsecond line\\nQ\\n'" "$port"
printf 'first line\nsecond line\nQ\n' | "$SOCKIT" echo 127.0.0.1 "$port" | sed 's/^/    /'

step "UDP echo, the textbook recvfrom/sendto loop"
start udp echo -u -m iterative
show echo -u 127.0.0.1 "$port" "a datagram"
show echo -u --connected 127.0.0.1 "$port" "over a connected UDP socket"

step "File transfer with half-close (server sends, shuts down its side, reads 'Thank you')"
mkdir -p root down
head -c 1048576 /dev/urandom >root/random.bin
printf '  (in %s: root/random.bin, 1 MiB of random bytes)\n' "$work"
start file file --root root -m fork
show get 127.0.0.1 "$port" random.bin -o down/random.bin
sent=$(sha256sum <root/random.bin | cut -d' ' -f1)
got=$(sha256sum <down/random.bin | cut -d' ' -f1)
echo "    sha256 sent     $sent"
echo "    sha256 received $got"
[ "$sent" = "$got" ] || { echo "demo: checksums differ" >&2; exit 1; }
printf '  $ sockit get 127.0.0.1 %s ../etc/passwd -o down/passwd     # outside the root\n' "$port"
"$SOCKIT" get 127.0.0.1 "$port" ../etc/passwd -o down/passwd 2>&1 | sed 's/^/    /' || true
sleep 0.2
echo "  server log:"
sed 's/^/    /' "$work/file.log"

step "Names and byte order"
show lookup localhost
show lookup 127.0.0.1
show addr 127.0.0.1:7

step "Done: every server is stopped"
