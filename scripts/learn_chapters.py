# SPDX-License-Identifier: BSD-2-Clause
"""learn_chapters.py - the chapters of docs/LEARN.md, each a function that
runs what it shows (see learn.py).  A chapter's text says what to notice;
its expect= patterns are that text's claims, checked on every run."""
import os
import re

from learn_session import ClaimFailed, lines_matching

INTRO = """
# Learning sockets with sockit

This guide follows the two socket tutorials sockit grew from (in Korean:
a Winsock-and-Linux course whose chapters are named below in Korean with
an English gloss, and a shorter course whose last part is the five I/O
models) and shows, chapter by chapter, the sockit command that makes the
chapter's point visible on real sockets on your own machine.

Every command below was run by `scripts/learn.py`, which wrote this file
with what the commands printed; `make test` runs it again and fails when
a command no longer prints what the text says.  Servers listen on
127.0.0.1, on the ports shown (7007 and so on); pick another port if one
is taken.  The `&` starts a server in the background: stop it with
`kill %1` (or `fg` and Ctrl-C) before the next experiment.  Build first
with `make`, and put `build/` on your PATH: `export PATH=$PWD/build:$PATH`.
To see the system calls underneath each chapter, add `--trace` to any of
these commands; [TRACE.md](TRACE.md) shows what it prints, call by call.
"""


def byte_order(s):
    s.say("""
## 1. Byte order and addresses

*Tutorial 1, "네트워크 바이트 순서와 인터넷 주소 변환" (network byte order and
address conversion); tutorial 2, "struct in_addr".*

An IPv4 address is four bytes.  On the wire, and in `struct in_addr`, they
are in network byte order: most significant first (big-endian).  A PC's
CPU is little-endian, so the same four bytes read as a host `uint32_t`
give a different number; `htonl`/`ntohl` convert between the two, and
`inet_pton`/`inet_ntop` between the dotted text and the bytes.
`sockit addr` shows all of them at once:
""")
    s.run("sockit addr 127.0.0.1",
          expect=[r"bytes in memory:\s+7f 00 00 01",
                  r"host-order int:\s+0x7f000001",
                  r"network-order int:\s+0x0100007f",
                  r"byte order:\s+little-endian"])
    s.notice("""
the bytes in memory are `7f 00 00 01` whatever the CPU: that is the
network order.  Read as a host integer on this little-endian machine
they make `0x0100007f`; `ntohl` turns them into `0x7f000001`, the number
127.0.0.1 stands for.  A server that forgets `htons` on its port listens
on the wrong one: port 7007 is `0x1b5f`, and unconverted it becomes
`0x5f1b`, port 24347.
""")
    s.run("sockit addr 255.255.255.256", status=2,
          expect=[r"not an IPv4 or IPv6 address"])
    s.notice("a malformed address is refused with a reason, where `inet_addr()` "
             "would quietly return `INADDR_NONE` (which is also 255.255.255.255).")


def name_lookup(s):
    s.say("""
## 2. Names and addresses: DNS

*Tutorial 1, "Domain Name System": `gethostbyname` and `gethostbyaddr`.*

A name is resolved to addresses by the system's resolver (here
`getaddrinfo`, which replaced `gethostbyname` and handles IPv6).  One name
can have several addresses and aliases; an address maps back to a name
through the reverse lookup (`getnameinfo`, formerly `gethostbyaddr`).
`localhost` is answered from `/etc/hosts` without asking a DNS server:
""")
    s.run("sockit lookup localhost", expect=[r"address:\s+127\.0\.0\.1 \(IPv4\)"])
    s.run("sockit lookup 127.0.0.1", expect=[r"127\.0\.0\.1 is localhost"])
    s.notice("the forward lookup lists every address with its family; the "
             "reverse one names the host.  Try `sockit lookup` on a name of your "
             "network to see several addresses, IPv6 among them.")


def tcp_echo(s):
    s.say("""
## 3. A TCP echo server and client

*Tutorial 1, "TCP 기반 서버, 클라이언트 구현" (a TCP server and client) and
"Iterative 기반의 서버, 클라이언트 구현" (the iterative server); tutorial 2,
"에코 프로그램" (the echo program).*

The server calls `socket`, `bind`, `listen`, then `accept` in a loop;
the client calls `socket` and `connect`.  The iterative server serves one
client to its end before it accepts the next.  `sockit serve` prints its
address once it is listening; `sockit echo` is the tutorial's client, with
`Input message(Q to quit):` when it reads from a terminal:
""")
    srv = s.serve("echo -m iterative", 7007)
    s.run("sockit echo 127.0.0.1 7007 'hello, sockit'", expect=[r"^hello, sockit$"])
    s.run("printf 'first line\\nsecond line\\nQ\\n' | sockit echo 127.0.0.1 7007",
          expect=[r"first line", r"second line"])
    s.log_of(srv, expect=[r"connected", r"closed \(\d+ bytes in, \d+ out\)"],
             title="The server logged each client as it came and went (`kill %1`):")
    s.notice("""
each client shows as `connected` and then `closed` with its byte
counts, one after the other: the iterative server never had two at
once.  The client read until every byte it had sent came back before it
printed the line, which is what the next chapter is about.
""")


def exact_reads(s):
    s.say("""
## 4. Reading until every byte is there

*Tutorial 1, "에코 클라이언트의 완벽 구현!" (the echo client done right).*

TCP is a byte stream: it keeps no message boundaries.  One `send` of 100
bytes may arrive as one `recv` of 100, or as 60 and 40, and two sends may
arrive as one recv.  A client that calls `recv` once and prints what it
got works on loopback by luck.  `sockit bench` checks every byte of every
reply wherever the stream splits, so it shows that the echo is exact even
with 1-byte and 64 KiB messages:
""")
    srv = s.serve("echo -q", 7007)
    for size in ("1", "65536"):
        s.run("sockit bench 127.0.0.1 7007 -s %s -n 2000" % size,
              expect=[r"^\s+errors\s+0$", r"^\s+messages\s+2000 "])
    srv.stop()
    s.notice("""
no errors at either size: each reply was matched byte for byte against
what was sent, however the kernel cut it.  A 64 KiB message is larger
than one segment even on loopback, so a `recv` can return part of one;
a client that reads once would then print half an echo.
""")


def udp_echo(s):
    s.say("""
## 5. UDP: datagrams, and what only a connected socket hears

*Tutorial 1, "UDP에 대한 이해" and "UDP 기반 서버 / 클라이언트의 구현" (UDP, and
a UDP server and client), with its "connected UDP socket".*

A UDP server has no `listen` or `accept`: one socket receives every
client's datagrams with `recvfrom`, which says who sent each, and answers
with `sendto`.  Each datagram arrives whole or not at all, and nothing
says whether it arrived:
""")
    srv = s.serve("echo -u", 7007)
    s.run("sockit echo -u 127.0.0.1 7007 'one datagram'", expect=[r"^one datagram$"])
    srv.stop()
    s.say("""
Now the same request to a port where nothing listens.  The kernel there
answers with an ICMP "port unreachable", but an *unconnected* socket never
hears of it (the error has no socket to go to): the client can only wait
and time out.  A *connected* UDP socket (`connect` on a datagram socket
fixes its peer) gets the error back from its next `recv`:
""")
    s.run("sockit echo -u 127.0.0.1 7009 'anyone?' --timeout 1", status=1,
          expect=[r"no reply from 127\.0\.0\.1 port 7009 within 1 s"])
    s.run("sockit echo -u --connected 127.0.0.1 7009 'anyone?'", status=1,
          expect=[r"connection refused"])
    s.notice("""
the unconnected client waited its whole second; the connected one
failed at once with "connection refused", the ICMP error turned into
`ECONNREFUSED`.  That is the one thing a connected UDP socket can tell
that an unconnected one cannot.
""")


def half_close(s):
    s.say("""
## 6. Half-close: the file transfer and its "Thank you"

*Tutorial 1, "TCP 기반의 Half-close".*

The file server sends a file and then calls `shutdown(SHUT_WR)`: its FIN
tells the client "that was all of it", and the client's `recv` returns 0.
The connection is only half closed: the client can still send, and sends
"Thank you", which the server reads before it closes.  With `close`
instead of `shutdown` that last message would have nowhere to go.
""")
    s.run("mkdir -p files && printf 'line one\\nline two\\n' > files/notes.txt", show=True)
    srv = s.serve("file --root files", 7010)
    s.run("sockit get 127.0.0.1 7010 notes.txt -o copy.txt && cat copy.txt",
          expect=[r"received notes\.txt: 18 bytes", r"^line two$"])
    s.log_of(srv, expect=[r'sent "notes\.txt" \(18 bytes\)', r'closing message: "Thank you"'],
             title="The server's log:")
    s.notice("""
the server logged the client's "Thank you" *after* it had sent the
whole file: the client sent it after its `recv` returned 0, on a
connection whose other direction was already closed.
""")


def time_wait(s):
    s.say("""
## 7. TIME_WAIT, and why servers set SO_REUSEADDR

*Tutorial 1, "TCP의 이론적인 이야기" (TCP's four-way close); tutorial 2,
"TCP 연결 종료" and "소켓옵션".*

The side that closes first (sends the first FIN) keeps the connection in
TIME_WAIT for a while after the close (60 s on Linux), so that a late
segment of the old connection cannot be taken for part of a new one.
The file server closes first, so after one transfer its port has a
connection in TIME_WAIT:
""")
    s.run("mkdir -p files && echo data > files/a.txt", show=False)
    srv = s.serve("file --root files -q", 7011)
    s.run("sockit get 127.0.0.1 7011 a.txt -o /dev/null", expect=[r"received a\.txt"])
    srv.stop()
    s.say("With the server stopped (`kill %1`), the old connection is still there:")
    s.run("ss -tan state time-wait '( sport = :7011 )'",
          expect=[r"127\.0\.0\.1:7011\s+127\.0\.0\.1:\d+"])
    s.say("""
A new server on that port without SO_REUSEADDR cannot bind it while the
old connection waits; sockit sets SO_REUSEADDR on its listening sockets
(as every production server does), and `--sockopt reuseaddr=off` turns it
off to show the difference:
""")
    s.run("sockit serve file --root files -l 127.0.0.1 -p 7011 --sockopt reuseaddr=off",
          status=1, expect=[r"cannot listen.*7011.*in use"])
    again = s.serve("file --root files", 7011, again=srv)
    again.stop()
    s.notice("""
the same bind failed with "address already in use" without
SO_REUSEADDR and succeeded with it, seconds after the old server
stopped.  Only the side that closed first is held up: the client's port
is free at once.  Windows differs: there TIME_WAIT never stops a
listening socket's bind, and SO_REUSEADDR means "let me take over a port
another socket holds", so sockit.exe sets SO_EXCLUSIVEADDRUSE instead.
""")


def run_bench(s, command, keep):
    """Run a `sockit bench` command whose run must have no errors; its output."""
    return s.run(command, expect=[r"^\s+errors\s+0$"], keep=keep)


def bench_figure(text, pattern, what):
    """The match of pattern in bench's output, or ClaimFailed naming what."""
    m = re.search(pattern, text, re.M)
    if not m:
        raise ClaimFailed("no %s in:\n%s" % (what, text))
    return m


def socket_options(s):
    s.say("""
## 8. Socket options and the kernel's buffers

*Tutorial 1, "소켓의 프로토콜과 그에 따른 데이터 전송 특성" (the socket's buffers);
tutorial 2, "소켓옵션" (getsockopt, setsockopt, SO_RCVBUF, SO_LINGER).*

Each TCP socket has a send and a receive buffer in the kernel: `send`
copies into the first and returns, `recv` takes from the second.
`sockit sockopt` prints a fresh socket's options, then sets the ones you
name and reads them back:
""")
    s.run("sockit sockopt rcvbuf=4K nodelay=on",
          expect=[r"rcvbuf: \d+ -> 8192", r"doubled", r"nodelay: off -> on"],
          keep=lines_matching(r"^a fresh", r"^(rcvbuf|sndbuf|nodelay|reuseaddr|linger)\b",
                              r"->", r"^note"))
    s.notice("""
Linux reports twice the receive buffer that was asked for: it reserves
as much again for its own bookkeeping (socket(7)), so `getsockopt` after
`setsockopt(SO_RCVBUF, 4096)` says 8192.  Nagle's algorithm (off with
TCP_NODELAY) is on by default; its cost is measured at the end of this
chapter.
""")
    s.say("""
The receive buffer is also TCP's window: the sender may have no more
bytes unacknowledged than the receiver has room for.  A small SO_RCVBUF
therefore stalls a sender however fast the receiver reads.  Two discard
servers, one with a 4 KiB receive buffer (set on the listening socket,
which the accepted connections inherit), each take one second of
`sockit bench --stream`, a one-way stream of 128 KiB writes:
""")
    default = s.serve("discard -q", 7014)
    small = s.serve("discard -q --sockopt rcvbuf=4K", 7015)

    def rate(text):
        m = bench_figure(text, r"^\s+rate\s+([\d.]+) (G|M|k)bit/s", "rate")
        return float(m.group(1)) * {"G": 1e9, "M": 1e6, "k": 1e3}[m.group(2)]
    keep = lines_matching(r"^sockit bench", r"^\s+rate")
    fast = rate(run_bench(s, "sockit bench 127.0.0.1 7014 --stream -s 128K -D 1", keep))
    slow = rate(run_bench(s, "sockit bench 127.0.0.1 7015 --stream -s 128K -D 1", keep))
    if not slow * 4 < fast:
        raise ClaimFailed("the 4 KiB receive buffer did not slow the sender to a quarter: "
                          "%.0f against %.0f bit/s" % (slow, fast))
    default.stop()
    small.stop()
    s.notice("""
the same server, the same client and the same machine, and the stream
into the small buffer ran at a small fraction of the other's rate
(%.0fx slower this time).  The sender spent most of its time blocked:
every few kilobytes it had to wait for the receiver to read and
announce room again.  That is why servers that move bulk data raise
SO_RCVBUF (or leave it to Linux's autotuning, which a fixed setsockopt
turns off), and why a reader that stops reading stops its sender.
""" % (fast / slow))
    nagle(s)


def nagle(s):
    s.say("""
### Nagle's algorithm and the delayed ACK

Nagle's algorithm holds a small segment back while an earlier one is
still unacknowledged, so that many tiny writes become one segment.  The
receiver, for its part, delays its ACK (up to 40 ms on Linux, 200 ms on
Windows) hoping to send it along with data.  When a program writes one
message in two pieces and the peer waits for the whole message before
answering, each side waits for the other: the second piece waits for
the ACK of the first, and the ACK waits for its timer.

Two echo servers with a 1 KiB buffer, so that each 1500-byte message is
read and echoed in two writes (1024 bytes, then 476).  sockit gives
every connection TCP_NODELAY; `--sockopt nodelay=off` leaves Nagle on.
`sockit bench` sends one message at a time and times each round trip:
""")
    fast_srv = s.serve("echo -q --buffer 1K", 7017)
    nagle_srv = s.serve("echo -q --buffer 1K --sockopt nodelay=off", 7018)

    def p50(text):
        return float(bench_figure(text, r"^\s+latency\s+p50 ([\d.]+) us", "p50 latency").group(1))
    keep = lines_matching(r"^sockit bench", r"^\s+messages", r"^\s+latency")
    fast = p50(run_bench(s, "sockit bench 127.0.0.1 7017 -s 1500 -D 1", keep))
    slow = p50(run_bench(s, "sockit bench 127.0.0.1 7018 -s 1500 -D 1", keep))
    fast_srv.stop()
    nagle_srv.stop()
    if not fast < 5000:
        raise ClaimFailed("with TCP_NODELAY the median round trip took %.0f us, not under 5 ms"
                          % fast)
    if not slow > 20000:
        raise ClaimFailed("with Nagle on the median round trip took %.0f us, not over 20 ms"
                          % slow)
    s.notice("""
the median round trip took %.1f ms with Nagle on and %.0f us without
it: the same server, the same bytes.  With Nagle, the second write sat
in the server's send buffer until the client's delayed-ACK timer fired.
`--trace` on the server shows the choice on each connection
(`setsockopt(7, IPPROTO_TCP, TCP_NODELAY, 0) = 0: Nagle on: a small segment
waits while an earlier one is unacknowledged`).  That is why interactive
servers set TCP_NODELAY, and why the better cure is to write a reply in
one call (one buffer, or `writev`) rather than in pieces.
""" % (slow / 1000, fast))


def zombies(s):
    s.say("""
## 9. Processes and zombies

*Tutorial 1, "프로세스의 이해와 활용" (processes) and "프로세스 & 좀비(Zombie)
프로세스" (zombie processes).*

The multi-process server forks a child for each client: the parent goes
back to `accept`, the child serves and exits.  A child that has exited
is not gone: the kernel keeps its exit status, and its entry in the
process table, until the parent collects it with `wait` or `waitpid`.
Until then it is a zombie.  sockit's fork server catches SIGCHLD and
calls `waitpid(-1, WNOHANG)` until no ended child is left (one SIGCHLD
can stand for several children).  `--no-reap`, which exists only for
this lesson, leaves them:
""")
    srv = s.serve("echo -m fork --no-reap", 7012)
    s.run("for i in 1 2 3; do sockit echo 127.0.0.1 7012 hi; done; sleep 0.5",
          expect=[r"^hi$"])
    text = s.run("ps -o pid,ppid,stat,cmd --ppid \"$(pgrep -nf '^[^ ]*sockit serve echo -m fork --no-reap')\"",
                 expect=[r"^\s*\d+\s+\d+\s+Z\s+\[sockit\] <defunct>$"])
    zombies = len(re.findall(r"^\s*\d+\s+\d+\s+Z\s", text, re.M))
    if zombies != 3:
        raise ClaimFailed("%d zombies, not 3:\n%s" % (zombies, text))
    s.log_of(srv, expect=[r"SIGCHLD: a child ended and is not reaped"],
             keep=lines_matching(r"SIGCHLD", limit=1),
             title="Its log said why, at each SIGCHLD (`kill %1`):")
    s.say("The same clients against the fork server as it runs normally:")
    srv = s.serve("echo -m fork", 7013)
    s.run("for i in 1 2 3; do sockit echo 127.0.0.1 7013 hi; done; sleep 0.5",
          expect=[r"^hi$"])
    s.run("ps -o pid,ppid,stat,cmd --ppid \"$(pgrep -nf '^[^ ]*sockit serve echo -m fork -l')\"",
          status=1, reject=[r"\bZ\b", r"defunct"])
    srv.stop()
    s.notice("""
three clients came and went and left three zombies (`Z`,
`<defunct>`): processes that run nothing and hold nothing but their exit
status and a process-table slot, which is limited.  A busy server that
never reaps runs out of them and can no longer fork.  The reaping server
left none: `ps` found no child (and exited 1).  Stopping the `--no-reap`
server ends the zombies too: sockit reaps every child when it stops, and
a parent's death hands any it leaves to init, which reaps them.
""")


def models_side_by_side(s):
    s.say("""
## 10. The same 50 clients on every model

*Tutorial 1, "프로세스의 이해와 활용" (processes), the thread and
multiplexing chapters; tutorial 2, "I/O 모델" (the I/O models: blocking,
non-blocking, multiplexing, signal-driven, asynchronous).*

`sockit compare` starts each server model in turn, pinned to one CPU,
and loads it with the same 50 connections from `sockit bench` on the other
CPU, each keeping one 128-byte message in flight:
""")
    text = s.run("sockit compare --models iterative,fork,thread,select,epoll,sigio,uring "
                 "--peers none --conns 50 --sizes 128 --depths 1 --duration 1 --repeat 1",
                 expect=[r"^\s+iterative\s+model", r"^\s+fork\s+model", r"^\s+thread\s+model",
                         r"^\s+select\s+model", r"^\s+epoll\s+model", r"^\s+sigio\s+model",
                         r"^\s+uring\s+model"],
                 keep=lines_matching(r"^50 connections", r"^\s+server\s+kind\s+msgs",
                                     r"^\s+(iterative|fork|thread|select|epoll|sigio|uring)"
                                     r"\s+model\s+[\d,]+\s+[\d,]+-"), timeout=120)

    def figures(model):
        """(msgs/s, p99 us, server us/msg) from the first table."""
        m = re.search(r"^\s+%s\s+model\s+([\d,]+)\s+\S+\s+([\d.]+)\s+([\d.]+)" % model,
                      text, re.M)
        return float(m.group(1).replace(",", "")), float(m.group(2)), float(m.group(3))
    blocking = [figures(m) for m in ("fork", "thread")]
    loops = [figures(m) for m in ("select", "epoll", "sigio", "uring")]
    if not max(f[2] for f in loops) < min(f[2] for f in blocking):
        raise ClaimFailed("an event loop spent as much CPU per message as fork or thread: "
                          "%s %s" % (loops, blocking))
    s.notice("""
fork and thread serve all 50 at once, at the price of a process or a
thread each and of the kernel switching between them: see `srv us/msg`,
the server's CPU time per message.  select, epoll, sigio and io_uring
serve all 50 from one thread, with the least CPU per message.  The
figures differ from machine to machine and run to run; that order does
not.  The iterative row hides the worst of what happened to its clients
(49 of them sent a message that waited, but 49 messages are under 1% of
those echoed, so even p99 can miss them): the next run shows it.
""")
    srv = s.serve("echo -m iterative -q", 7007)
    text = s.run("sockit bench 127.0.0.1 7007 -c 50 -D 1",
                 expect=[r"^\s+errors\s+0$"], keep=lines_matching(r"^sockit bench", r"messages", r"latency"))
    worst = float(re.search(r"max ([\d.]+) (us|ms|s)", text).group(1))
    unit = re.search(r"max [\d.]+ (us|ms|s)", text).group(1)
    worst_s = worst / {"us": 1e6, "ms": 1e3, "s": 1}[unit]
    if worst_s < 0.5:
        raise ClaimFailed("the iterative server's worst latency was only %.3f s" % worst_s)
    srv.stop()
    s.notice("""
the median is an echo's usual few microseconds, but the worst reply
took about the whole second: the iterative server served the first
connection for the whole run while the other 49 waited in the listen
queue, each with its first message unanswered, and served each of them
only once the one before had gone.
""")


def multicast(s):
    s.say("""
## 11. Multicast

*Tutorial 2, "IP 주소" (class D, the multicast addresses) and
"소켓옵션" (the IP-level options for multicast).*

A multicast datagram goes to a group address (224.0.0.0 to
239.255.255.255), not to a host; every socket that joined the group
(`IP_ADD_MEMBERSHIP`) and bound the port gets its own copy.  The sender
joins nothing and sets how many routers the datagram may cross
(`IP_MULTICAST_TTL`).  Joining a group on a real network sends IGMP
reports out of your interfaces, so this experiment runs inside a network
namespace of its own, whose only interface is its loopback (as root):
""")
    s.alias("sklearn", "sklearn%d" % os.getpid())
    s.cleanups.append("ip netns del sklearn")
    s.run("ip netns add sklearn")
    s.run("ip -n sklearn link set dev lo up multicast on")
    s.run("ip -n sklearn route add 224.0.0.0/4 dev lo")
    s.say("Two members of group 239.1.2.3 and one of another group, all on port 7016:")
    members = [s.background("ip netns exec sklearn sockit mcast recv 239.1.2.3 7016 --count 2",
                            r"^receiving on") for _ in range(2)]
    other = s.background("ip netns exec sklearn sockit mcast recv 239.1.2.4 7016 --timeout 1",
                         r"^receiving on")
    s.run("printf 'news one\\nnews two\\n' | "
          "ip netns exec sklearn sockit mcast send 239.1.2.3 7016 --ttl 1",
          expect=[r"^sent 2 datagrams to 239\.1\.2\.3 port 7016$"])
    s.output_of(members[0], expect=[r"^news one$", r"^news two$"], title="Member 1 printed:")
    s.output_of(members[1], expect=[r"^news one$", r"^news two$"], title="And member 2:")
    s.output_of(other, status=1, expect=[r"nothing arrived on 239\.1\.2\.4"],
                title="The member of the other group:")
    s.run("ip netns del sklearn")
    s.notice("""
one `sendto` per line reached both members of the group, each with its
own copy, and nothing reached the member of 239.1.2.4 on the same port:
delivery is by group, not by port.  The two members shared port 7016,
which needs SO_REUSEADDR on each; `--ttl 1` keeps the datagrams on the
local network.  `sockit mcast --help` shows broadcast too (`--broadcast`,
which needs SO_BROADCAST), and `--trace` shows the setsockopt calls.
""")


multicast.needs_root = "it creates a network namespace"

# Each chapter's heading words (how --check finds its section) and
# whether it holds for sockit.exe under Wine (learn.py --windows): the
# fork model, /proc-based tools and compare's Linux models do not.
SECTIONS = {byte_order: "Byte order", name_lookup: "Names and addresses",
            tcp_echo: "A TCP echo server", exact_reads: "Reading until",
            udp_echo: "UDP: datagrams", half_close: "Half-close", time_wait: "TIME_WAIT",
            socket_options: "Socket options", zombies: "Processes and zombies",
            models_side_by_side: "The same 50 clients", multicast: "Multicast"}
# Not among them: udp_echo, because Wine never hands a connected UDP
# socket the ICMP "port unreachable" (Windows itself reports it, as
# WSAECONNRESET); time_wait, because on Windows TIME_WAIT never blocks a
# server's bind (the chapter says so).
WINDOWS = {byte_order, name_lookup, tcp_echo, exact_reads, half_close}
for _chapter, _words in SECTIONS.items():
    _chapter.section = _words
    _chapter.windows = _chapter in WINDOWS

CHAPTERS = [byte_order, name_lookup, tcp_echo, exact_reads, udp_echo, half_close,
            time_wait, socket_options, zombies, models_side_by_side, multicast]
