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
