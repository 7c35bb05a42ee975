/*
 * uvbench.c -- the libuv side of awake's benchmarks (bench/README.md).
 *
 * One libuv loop on the main thread; each measurement prints one JSON line:
 *   {"bench":"pingpong","impl":"libuv","value":13800.0,"unit":"ns/roundtrip"}
 *
 * Usage: uvbench pingpong <n>   1-byte ping-pong over a socketpair between
 *                               two uv_pipe_t handles, ns per round trip
 *        uvbench timers <n>     n timers (1-10 ms) started and fired, ms
 *
 * Build: cc -std=c11 -Wall -Wextra -Werror -pedantic -O2 uvbench.c -luv
 */
#define _POSIX_C_SOURCE 200809L

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <uv.h>

static void die(const char *what, int rc) {
    fprintf(stderr, "uvbench: %s: %s\n", what, rc ? uv_strerror(rc) : "failed");
    exit(1);
}

/* ---- ping-pong ------------------------------------------------------------ */

typedef struct end {
    uv_pipe_t pipe;
    uv_write_t req;
    char rbuf[1];
    char wbuf[1];
    uint64_t count;
    int is_pinger;
} end;

static uint64_t pp_n;
static uint64_t pp_t0, pp_t1;

static void on_alloc(uv_handle_t *h, size_t hint, uv_buf_t *buf) {
    end *e = h->data;
    (void)hint;
    *buf = uv_buf_init(e->rbuf, sizeof e->rbuf);
}

static void on_write(uv_write_t *req, int status) {
    (void)req;
    if (status != 0)
        die("uv_write", status);
}

static void send_byte(end *e) {
    uv_buf_t b = uv_buf_init(e->wbuf, 1);
    int rc = uv_write(&e->req, (uv_stream_t *)&e->pipe, &b, 1, on_write);
    if (rc != 0)
        die("uv_write", rc);
}

static void on_read(uv_stream_t *s, ssize_t nread, const uv_buf_t *buf) {
    end *e = s->data;
    (void)buf;
    if (nread == 0)
        return;
    if (nread < 0)
        die("read", (int)nread);
    e->count++;
    if (e->is_pinger) {
        if (e->count == pp_n) {
            pp_t1 = uv_hrtime();
            uv_read_stop(s);
            return;
        }
    } else if (e->count == pp_n) {
        e->wbuf[0] = e->rbuf[0];
        send_byte(e);
        uv_read_stop(s);
        return;
    }
    e->wbuf[0] = e->rbuf[0];
    send_byte(e);
}

static void bench_pingpong(uint64_t n) {
    int sv[2], rc;
    uv_loop_t *loop = uv_default_loop();
    static end a, b;
    if (socketpair(AF_UNIX, SOCK_STREAM, 0, sv) != 0)
        die("socketpair", 0);
    pp_n = n;
    a.is_pinger = 1;
    if ((rc = uv_pipe_init(loop, &a.pipe, 0)) || (rc = uv_pipe_open(&a.pipe, sv[0])) ||
        (rc = uv_pipe_init(loop, &b.pipe, 0)) || (rc = uv_pipe_open(&b.pipe, sv[1])))
        die("uv_pipe_open", rc);
    a.pipe.data = &a;
    b.pipe.data = &b;
    if ((rc = uv_read_start((uv_stream_t *)&a.pipe, on_alloc, on_read)) ||
        (rc = uv_read_start((uv_stream_t *)&b.pipe, on_alloc, on_read)))
        die("uv_read_start", rc);
    pp_t0 = uv_hrtime();
    a.wbuf[0] = 7;
    send_byte(&a);
    uv_run(loop, UV_RUN_DEFAULT);
    if (a.count != n || b.count != n)
        die("ping-pong did not finish", 0);
    printf("{\"bench\":\"pingpong\",\"impl\":\"libuv\",\"value\":%.3f,"
           "\"unit\":\"ns/roundtrip\"}\n",
           (double)(pp_t1 - pp_t0) / (double)n);
}

/* ---- timers --------------------------------------------------------------- */

static uint64_t tm_n, tm_fired, tm_t0, tm_t1;

static void on_timer(uv_timer_t *t) {
    (void)t;
    if (++tm_fired == tm_n)
        tm_t1 = uv_hrtime();
}

static uint64_t gcd(uint64_t a, uint64_t b) { return b ? gcd(b, a % b) : a; }

/* Same deadlines and creation order as the other implementations: timer j of
 * n is due 1 ms + j * 9 ms / n after the start (libuv has 1 ms resolution, so
 * it rounds down to whole milliseconds); created in the order i -> i*p mod n. */
static void bench_timers(uint64_t n) {
    uv_loop_t *loop = uv_default_loop();
    uv_timer_t *ts = calloc(n, sizeof *ts);
    uint64_t p = 7919, i;
    if (!ts)
        die("calloc", 0);
    while (gcd(p, n) != 1)
        p += 2;
    tm_n = n;
    uv_update_time(loop);
    tm_t0 = uv_hrtime();
    for (i = 0; i < n; i++) {
        uint64_t j = (i * p) % n;
        uint64_t ms = (1000000 + j * 9000000 / n) / 1000000;
        uv_timer_init(loop, &ts[j]);
        uv_timer_start(&ts[j], on_timer, ms, 0);
    }
    uv_run(loop, UV_RUN_DEFAULT);
    if (tm_fired != n)
        die("not every timer fired", 0);
    printf("{\"bench\":\"timers\",\"impl\":\"libuv\",\"value\":%.3f,\"unit\":\"ms\"}\n",
           (double)(tm_t1 - tm_t0) / 1e6);
}

int main(int argc, char **argv) {
    uint64_t n = argc > 2 ? strtoull(argv[2], NULL, 10) : 0;
    if (argc != 3 || n == 0) {
        fprintf(stderr, "usage: uvbench pingpong|timers <n>\n");
        return 2;
    }
    if (strcmp(argv[1], "pingpong") == 0)
        bench_pingpong(n);
    else if (strcmp(argv[1], "timers") == 0)
        bench_timers(n);
    else {
        fprintf(stderr, "uvbench: unknown benchmark %s\n", argv[1]);
        return 2;
    }
    return 0;
}
