/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * model_uring.c - the uring model: the connection core on its io_uring
 * backend (conn_uring.c), and the probe that says whether this kernel and
 * this process may use it.
 *
 * The probe needs what the backend relies on: io_uring itself (not
 * disabled by kernel.io_uring_disabled or a seccomp policy), the accept,
 * recv, send, poll and cancel operations, and buffer rings (Linux 5.19).
 */
#include "sk_conn.h"
#include "sk_error.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>

#ifdef SK_HAVE_URING

#include <fcntl.h>
#include <liburing.h>
#include <sys/mman.h>
#include <unistd.h>

#define PROBE_BUF_GROUP 1

static int uring_run(struct sk_server *srv)
{
    return sk__uring_serve(srv);
}

/* ---- the probe -------------------------------------------------------- */

static const char *disabled_reason(void)
{
    int fd = open("/proc/sys/kernel/io_uring_disabled", O_RDONLY | O_CLOEXEC);
    char text[8] = "";
    if (fd >= 0) {
        ssize_t n = read(fd, text, sizeof text - 1);
        close(fd);
        text[n > 0 ? n : 0] = '\0';
    }
    if (text[0] == '2')
        return "io_uring is not available: kernel.io_uring_disabled is 2";
    if (text[0] == '1')
        return "io_uring is not available: kernel.io_uring_disabled is 1 and this user "
               "is not in kernel.io_uring_group";
    return "io_uring is not permitted here (EPERM: a seccomp or container policy?)";
}

static int probe_once(const char **why)
{
    static char message[160];
    struct io_uring ring;
    int rc = io_uring_queue_init(8, &ring, 0);
    if (rc < 0) {
        if (rc == -ENOSYS) {
            *why = "kernel lacks io_uring (needs Linux >= 5.19 for multishot accept and "
                   "buffer rings)";
        } else if (rc == -EPERM || rc == -EACCES) {
            *why = disabled_reason();
        } else if (rc == -ENOMEM) {
            *why = "cannot set up io_uring: out of locked memory (raise ulimit -l)";
        } else {
            snprintf(message, sizeof message, "cannot set up io_uring: %s (%s)",
                     sk_strerror(rc), sk_err_name(rc));
            *why = message;
        }
        return rc;
    }
    rc = 0;
    struct io_uring_probe *probe = io_uring_get_probe_ring(&ring);
    static const struct { int op; const char *name; } needed[] = {
        { IORING_OP_ACCEPT, "accept" }, { IORING_OP_RECV, "recv" },
        { IORING_OP_SEND, "send" }, { IORING_OP_POLL_ADD, "poll" },
        { IORING_OP_ASYNC_CANCEL, "cancel" },
    };
    if (probe == NULL) {
        *why = "kernel io_uring too old (needs Linux >= 5.19 for multishot accept and "
               "buffer rings)";
        rc = SK_ENOTAVAIL;
    }
    for (size_t i = 0; rc == 0 && i < sizeof needed / sizeof *needed; i++) {
        if (!io_uring_opcode_supported(probe, needed[i].op)) {
            snprintf(message, sizeof message,
                     "kernel io_uring lacks %s (needs Linux >= 5.19)", needed[i].name);
            *why = message;
            rc = SK_ENOTAVAIL;
        }
    }
    if (probe != NULL)
        io_uring_free_probe(probe);
    if (rc == 0) {
        /* Buffer rings (5.19): register a tiny one and take it back. */
        size_t bytes = 8 * sizeof(struct io_uring_buf);
        void *mem = mmap(NULL, bytes, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS,
                         -1, 0);
        if (mem == MAP_FAILED) {
            *why = "cannot map memory for an io_uring buffer ring";
            rc = -errno;
        } else {
            struct io_uring_buf_reg reg;
            memset(&reg, 0, sizeof reg);
            reg.ring_addr = (unsigned long)(uintptr_t)mem;
            reg.ring_entries = 8;
            reg.bgid = PROBE_BUF_GROUP;
            if (io_uring_register_buf_ring(&ring, &reg, 0) < 0) {
                *why = "kernel lacks io_uring buffer rings (needs Linux >= 5.19)";
                rc = SK_ENOTAVAIL;
            } else {
                io_uring_unregister_buf_ring(&ring, PROBE_BUF_GROUP);
            }
            munmap(mem, bytes);
        }
    }
    io_uring_queue_exit(&ring);
    return rc;
}

static int uring_probe(const char **why)
{
    /* The answer does not change while we run; the list and the default
     * choice ask several times. */
    static int probed, result;
    static const char *reason;
    if (!probed) {
        reason = NULL;
        result = probe_once(&reason);
        probed = 1;
    }
    if (result < 0)
        *why = reason;
    return result;
}

#else /* !SK_HAVE_URING */

static int uring_probe(const char **why)
{
    *why = "built without liburing (apt-get install liburing-dev, then rebuild)";
    return SK_ENOTAVAIL;
}

static int uring_run(struct sk_server *srv)
{
    (void)srv;
    return SK_ENOTAVAIL;
}

#endif

const struct sk_model sk__model_uring = {
    .name = "uring",
    .io_model = "asynchronous",
    .summary = "io_uring: multishot accept and recv, provided buffers, batched submits",
    .flags = SK_MODEL_TCP | SK_MODEL_UDP | SK_MODEL_SHARED | SK_MODEL_WORKERS |
             SK_MODEL_REUSEPORT,
    .probe = uring_probe,
    .run = uring_run,
};
