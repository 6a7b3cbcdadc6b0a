/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * The connection core (sk_conn.c) without sockets: a fake backend plays
 * the kernel (a send "window" of bytes it will take, a record of what was
 * sent) and a small service keeps what it is given.  What is checked is
 * what every model now relies on: output leaves whole and in order,
 * whatever the window; writes never take more than the buffer has room
 * for; posts wait in order behind the output, up to the service's limit,
 * and hold the other connections' reading back while they wait; a member
 * whose posts wait and who takes nothing is dropped at its stall time; a
 * post to a broken connection is not called slow; input the service does
 * not take is kept and stops further reading.
 */
#include "sk_conn.h"
#include "unit.h"

#include <errno.h>
#include <string.h>

#define BUFSIZE 64

/* ---- the fake kernel -------------------------------------------------- */

static size_t window;           /* bytes the fake socket takes now */
static uint8_t sent[4096];      /* everything it took, in order */
static size_t nsent;

static long take(const void *data, size_t len)
{
    size_t n = len < window ? len : window;
    if (nsent + n > sizeof sent)
        n = sizeof sent - nsent;
    memcpy(sent + nsent, data, n);
    nsent += n;
    window -= n;
    return (long)n;
}

static int fake_flush(struct sk__conn *c)
{
    const uint8_t *p;
    size_t len;
    int moved = 0;
    while ((p = sk__conn_out_span(c, &len)) != NULL) {
        long n = take(p, len);
        if (n == 0)
            break;
        sk__conn_sent(c, (size_t)n);
        moved = 1;
    }
    return moved;
}

static long fake_send_now(struct sk__conn *c, const void *data, size_t len)
{
    (void)c;
    return take(data, len);
}

static void fake_update(struct sk__conn *c)
{
    (void)c;
}

static int fake_conn_stop(struct sk__conn *c)
{
    (void)c;
    return 1;
}

static const struct sk__conn_backend fake_backend = {
    .name = "fake",
    .conn_size = sizeof(struct sk__conn),
    .flush = fake_flush,
    .send_now = fake_send_now,
    .update = fake_update,
    .conn_stop = fake_conn_stop,
};

/* ---- a service that keeps what it is given ---------------------------- */

static size_t accept_input = (size_t)-1; /* bytes on_data takes per call */
static uint8_t got[4096];
static size_t ngot;

static size_t keep_data(struct sk_session *s, const uint8_t *data, size_t len)
{
    (void)s;
    size_t n = len < accept_input ? len : accept_input;
    memcpy(got + ngot, data, n);
    ngot += n;
    return n;
}

static const struct sk_service keeper = {
    .name = "keeper",
    .flags = SK_SERVICE_TCP,
    .on_data = keep_data,
};

/* ---- one worker, no threads ------------------------------------------- */

static struct sk_server_config cfg;
static struct sk_server srv;
static struct sk__workers shared;
static struct sk__worker worker;

static void setup(void)
{
    memset(&cfg, 0, sizeof cfg);
    memset(&srv, 0, sizeof srv);
    memset(&shared, 0, sizeof shared);
    memset(&worker, 0, sizeof worker);
    srv.cfg = &cfg;
    srv.service = &keeper;
    srv.buffer_size = BUFSIZE;
    srv.instance.service = &keeper;
    srv.instance.logger = &cfg.logger;
    shared.srv = &srv;
    shared.be = &fake_backend;
    shared.count = 1;
    worker.shared = &shared;
    worker.srv = &srv;
    worker.bufsize = BUFSIZE;
    worker.now_ms = 1000;
    worker.listener = worker.reserve_fd = SK_INVALID_SOCKET;
    window = (size_t)-1;
    nsent = ngot = 0;
    accept_input = (size_t)-1;
}

static struct sk__conn *open_conn(void)
{
    struct sk_addr peer;
    memset(&peer, 0, sizeof peer);
    sk__conn_open(&worker, SK_INVALID_SOCKET, &peer);
    CHECK(worker.all != NULL);
    return worker.all;
}

static void teardown(void)
{
    while (worker.oldest != NULL)
        sk__conn_close(worker.oldest);
    sk__conn_run_ready(&worker);
    sk__conn_free_all(&worker);
}

static void pattern(uint8_t *p, size_t len, unsigned seed)
{
    for (size_t i = 0; i < len; i++)
        p[i] = (uint8_t)(seed + i * 7);
}

/* ---- the tests -------------------------------------------------------- */

TEST(conn_write_goes_straight_out_when_the_socket_takes_it)
{
    setup();
    struct sk__conn *c = open_conn();
    uint8_t msg[40];
    pattern(msg, sizeof msg, 1);
    CHECK_INT(sk_session_write(&c->session, msg, sizeof msg), sizeof msg);
    CHECK_INT(sk__conn_out_len(c), 0); /* nothing copied */
    CHECK_MEM(sent, nsent, msg, sizeof msg);
    teardown();
}

TEST(conn_write_queues_at_most_the_buffer_and_leaves_in_order)
{
    setup();
    struct sk__conn *c = open_conn();
    uint8_t msg[200], all[200];
    pattern(msg, sizeof msg, 3);
    window = 10; /* the socket takes 10 bytes, then is full */
    size_t taken = sk_session_write(&c->session, msg, sizeof msg);
    CHECK_INT(taken, 10 + BUFSIZE);
    CHECK_INT(sk_session_room(&c->session), 0);
    CHECK_INT(sk_session_write(&c->session, msg + taken, 5), 0);
    /* The socket drains a little at a time: the circular buffer wraps. */
    size_t done = taken;
    for (int round = 0; round < 20 && done < sizeof msg; round++) {
        window = 23;
        sk__conn_process(c);
        done += sk_session_write(&c->session, msg + done, sizeof msg - done);
    }
    window = (size_t)-1;
    sk__conn_process(c);
    memcpy(all, msg, sizeof msg);
    CHECK_MEM(sent, nsent, all, sizeof all);
    teardown();
}

TEST(conn_posts_wait_in_order_up_to_the_limit)
{
    setup();
    struct sk__conn *c = open_conn();
    sk_session_set_slow_reader(&c->session, 3 * BUFSIZE, 0);
    uint8_t a[50], b[50], d[50], all[150];
    pattern(a, sizeof a, 10);
    pattern(b, sizeof b, 20);
    pattern(d, sizeof d, 30);
    window = 0;
    CHECK_INT(sk_session_post(&c->session, a, sizeof a), 0); /* into the output */
    CHECK_INT(sk_session_post(&c->session, b, sizeof b), 0); /* waits: 14 bytes of room */
    CHECK_INT(sk_session_room(&c->session), 0);              /* writes wait behind posts */
    CHECK_INT(sk_session_post(&c->session, d, sizeof d), 0);
    /* 150 waiting; one more 50 would pass the limit of 192. */
    CHECK_INT(sk_session_post(&c->session, d, sizeof d), SK_EBUFFULL);
    window = (size_t)-1;
    sk__conn_process(c);
    memcpy(all, a, 50);
    memcpy(all + 50, b, 50);
    memcpy(all + 100, d, 50);
    CHECK_MEM(sent, nsent, all, sizeof all);
    CHECK_INT(worker.backlogged, 0);
    teardown();
}

TEST(conn_waiting_posts_hold_back_the_others_reading)
{
    setup();
    struct sk__conn *slow = open_conn();
    struct sk__conn *other = open_conn();
    sk_session_set_slow_reader(&slow->session, 4 * BUFSIZE, 0);
    uint8_t msg[BUFSIZE];
    pattern(msg, sizeof msg, 5);
    window = 0;
    CHECK(sk__conn_can_read(other));
    CHECK_INT(sk_session_post(&slow->session, msg, sizeof msg), 0);
    CHECK_INT(sk_session_post(&slow->session, msg, 1), 0); /* this one waits */
    CHECK_INT(worker.backlogged, 1);
    CHECK(!sk__conn_can_read(other)); /* pushed back while posts wait */
    CHECK(other->paused);
    window = (size_t)-1;
    sk__conn_process(slow);
    CHECK_INT(worker.backlogged, 0);
    CHECK(!other->paused); /* woken: scheduled to read again */
    CHECK(sk__conn_can_read(other));
    sk__conn_run_ready(&worker);
    teardown();
}

TEST(conn_a_member_that_takes_nothing_is_dropped_at_its_stall_time)
{
    setup();
    struct sk__conn *c = open_conn();
    sk_session_set_slow_reader(&c->session, 1 << 20, 2000);
    uint8_t msg[BUFSIZE];
    pattern(msg, sizeof msg, 9);
    window = 0;
    CHECK_INT(sk_session_post(&c->session, msg, sizeof msg), 0);
    CHECK_INT(sk_session_post(&c->session, msg, sizeof msg), 0);
    worker.now_ms += 1999;
    uint64_t due = sk__conn_drop_stalled(&worker);
    CHECK(!c->aborted);
    CHECK_INT(due, 1000 + 2000);
    worker.now_ms += 1;
    sk__conn_drop_stalled(&worker);
    CHECK(c->aborted);
    sk__conn_run_ready(&worker); /* closes it */
    CHECK(worker.oldest == NULL);
    teardown();
}

TEST(conn_a_post_to_a_broken_member_is_not_slow)
{
    setup();
    struct sk__conn *c = open_conn();
    sk__conn_fail(c, -ECONNRESET, "send");
    CHECK_INT(sk_session_post(&c->session, "hi\n", 3), -EPIPE);
    teardown();
}

TEST(conn_input_the_service_leaves_is_kept_and_stops_reading)
{
    setup();
    struct sk__conn *c = open_conn();
    uint8_t msg[30];
    pattern(msg, sizeof msg, 2);
    accept_input = 0; /* the service takes nothing for now */
    sk__conn_received(c, msg, sizeof msg);
    CHECK(c->in != NULL);
    CHECK(!sk__conn_can_read(c));
    accept_input = 7; /* then a little at a time */
    sk__conn_process(c);
    CHECK(c->in == NULL);
    CHECK(sk__conn_can_read(c));
    CHECK_MEM(got, ngot, msg, sizeof msg);
    CHECK_INT(c->bytes_in, sizeof msg);
    teardown();
}
