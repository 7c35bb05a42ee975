/* ccall.c -- C functions for package internal/ccall's tests. */
#include <stdint.h>

typedef struct pair { uintptr_t a, b; } pair;

uintptr_t weigh6(uintptr_t a, uintptr_t b, uintptr_t c, uintptr_t d, uintptr_t e, uintptr_t f);
pair two(uintptr_t a, uintptr_t b);
uintptr_t nothing(void);

uintptr_t weigh6(uintptr_t a, uintptr_t b, uintptr_t c, uintptr_t d, uintptr_t e, uintptr_t f) {
    return a + 10 * b + 100 * c + 1000 * d + 10000 * e + 100000 * f;
}

pair two(uintptr_t a, uintptr_t b) {
    pair p;
    p.a = a + b;
    p.b = a * b;
    return p;
}

uintptr_t nothing(void) { return 7; }

uintptr_t call_back(uintptr_t (*fn)(uintptr_t), uintptr_t x);

/* Calls fn(x) and adds one, so the result is computed after the callback. */
uintptr_t call_back(uintptr_t (*fn)(uintptr_t), uintptr_t x) { return fn(x) + 1; }

uintptr_t sum_bytes(const uint8_t *p, uintptr_t n, uintptr_t *out, uintptr_t tag);

/* Writes the sum of n bytes at p to *out and returns tag * 1000 + n: a
 * list's results and out-parameters can be checked per entry. */
uintptr_t sum_bytes(const uint8_t *p, uintptr_t n, uintptr_t *out, uintptr_t tag) {
    uintptr_t s = 0;
    for (uintptr_t i = 0; i < n; i++)
        s += p[i];
    *out = s;
    return tag * 1000 + n;
}

static uintptr_t order_log[256];
static uintptr_t order_len;

uintptr_t record(uintptr_t x);
uintptr_t recorded(uintptr_t k);

/* Appends x to a log (the order of a list's calls) and returns the log's
 * length; recorded(k) returns entry k, recorded(~0) the length. */
uintptr_t record(uintptr_t x) {
    if (order_len < 256)
        order_log[order_len++] = x;
    return order_len;
}

uintptr_t recorded(uintptr_t k) { return k == (uintptr_t)-1 ? order_len : order_log[k]; }
