/*
 * floor.c -- the raw floor of the foreign-thread wake round trip
 * (bench/README.md): the least any runtime can do for "a thread that is not
 * the executor wakes it, the executor replies".
 *
 * Thread B sleeps in epoll_wait on an eventfd.  Thread A, for each round:
 * stores a sequence number, writes the eventfd, and spins until B has stored
 * the same number as its reply.  B: epoll_wait returns, read() the eventfd,
 * store the reply, epoll_wait again.  Prints the median round trip:
 *   {"bench":"wakert","impl":"raw","value":9100.0,"unit":"ns"}
 *
 * Usage: floor <rounds>
 * Build: cc -std=c11 -Wall -Wextra -Werror -pedantic -O2 floor.c -pthread
 */
#define _GNU_SOURCE

#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <time.h>
#include <unistd.h>

static int efd, epfd;
static _Atomic uint64_t seq, ack;
static _Atomic int stop;

static uint64_t now_ns(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

static void *replier(void *arg) {
    struct epoll_event ev;
    uint64_t v;
    (void)arg;
    while (!atomic_load(&stop)) {
        int n = epoll_wait(epfd, &ev, 1, -1);
        if (n < 0)
            continue; /* EINTR */
        if (read(efd, &v, sizeof v) != (ssize_t)sizeof v)
            continue;
        atomic_store(&ack, atomic_load(&seq));
    }
    return NULL;
}

static int cmp(const void *a, const void *b) {
    uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
    return x < y ? -1 : x > y;
}

int main(int argc, char **argv) {
    uint64_t n = argc == 2 ? strtoull(argv[1], NULL, 10) : 0, i, one = 1;
    uint64_t *samples;
    pthread_t t;
    struct epoll_event ev = {0};
    if (n == 0) {
        fprintf(stderr, "usage: floor <rounds>\n");
        return 2;
    }
    samples = malloc(n * sizeof *samples);
    efd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
    epfd = epoll_create1(EPOLL_CLOEXEC);
    ev.events = EPOLLIN;
    if (!samples || efd < 0 || epfd < 0 || epoll_ctl(epfd, EPOLL_CTL_ADD, efd, &ev) != 0 ||
        pthread_create(&t, NULL, replier, NULL) != 0) {
        perror("floor: setup");
        return 1;
    }
    for (i = 1; i <= n; i++) {
        uint64_t t0 = now_ns();
        atomic_store(&seq, i);
        if (write(efd, &one, sizeof one) != (ssize_t)sizeof one) {
            perror("floor: write eventfd");
            return 1;
        }
        while (atomic_load(&ack) < i) {
#if defined(__x86_64__) || defined(__i386__)
            __builtin_ia32_pause();
#endif
        }
        samples[i - 1] = now_ns() - t0;
    }
    atomic_store(&stop, 1);
    if (write(efd, &one, sizeof one) != (ssize_t)sizeof one)
        perror("floor: final write");
    pthread_join(t, NULL);
    qsort(samples, n, sizeof *samples, cmp);
    printf("{\"bench\":\"wakert\",\"impl\":\"raw\",\"value\":%.1f,\"unit\":\"ns\"}\n",
           (double)samples[n / 2]);
    return 0;
}
