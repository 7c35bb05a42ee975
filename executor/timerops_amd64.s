// Runtime-free timer_open / timer_close for the host table (System V amd64);
// see timerops.go for the timer-ops block. They run on the worker's thread
// inside a C poll or drop, use only caller-saved registers (AX, R8-R11 and
// the argument registers, which they do not modify before a tail call to the
// slow path), no Go stack, no g.

//go:build linux || darwin

#include "textflag.h"

#define ENTRY_OPS 72
#define CX_HOST_DATA 32
#define T_DEADLINE 24
#define T_TAG 40
#define OPS_FREE_N 0
#define OPS_N 8
#define OPS_SLOW_OPEN 16
#define OPS_SLOW_CLOSE 24
#define OPS_FREE 64
#define OPS_LIST 36864
#define OPS_MAX 4096

// int32_t timer_open(awake_context *cx, uint64_t deadline_ns, awake_timer **out)
// in: DI = cx, SI = deadline, DX = out.
TEXT awake_host_timer_open(SB), NOSPLIT|NOFRAME, $0-0
	TESTQ DI, DI
	JZ    invalid
	TESTQ DX, DX
	JZ    invalid
	MOVQ  CX_HOST_DATA(DI), R8    // R8: the poll entry (cx->host_data)
	TESTQ R8, R8
	JZ    slow_global             // not an executor poll: let Go decide
	MOVQ  ENTRY_OPS(R8), R9       // R9: the worker's timer-ops block
	TESTQ R9, R9
	JZ    slow_global
	MOVQ  OPS_FREE_N(R9), R10     // R10: free timers
	TESTQ R10, R10
	JZ    slow                    // none left: refill in Go
	MOVQ  OPS_N(R9), R11          // R11: queued operations
	CMPQ  R11, $OPS_MAX
	JAE   slow                    // queue full: flush in Go
	DECQ  R10
	MOVQ  R10, OPS_FREE_N(R9)
	MOVQ  OPS_FREE(R9)(R10*8), AX // AX: the timer
	MOVQ  SI, T_DEADLINE(AX)      // t->deadline_ns = deadline
	MOVQ  AX, OPS_LIST(R9)(R11*8) // queue "arm t"
	INCQ  R11
	MOVQ  R11, OPS_N(R9)
	MOVQ  AX, 0(DX)               // *out = t
	XORL  AX, AX                  // AWAKE_OK
	RET
slow:
	MOVQ  OPS_SLOW_OPEN(R9), AX
	JMP   AX                      // tail call with DI, SI, DX untouched
slow_global:
	MOVQ  ·slowOpenPtr(SB), AX    // RIP-relative load: touches only AX
	JMP   AX
invalid:
	TESTQ DX, DX
	JZ    invalid_ret
	MOVQ  $0, 0(DX)               // *out = NULL
invalid_ret:
	MOVL  $-1, AX                 // AWAKE_E_INVALID
	RET

// void timer_close(awake_timer *t). in: DI = t.
TEXT awake_host_timer_close(SB), NOSPLIT|NOFRAME, $0-0
	TESTQ DI, DI
	JZ    close_ret
	MOVQ  T_TAG(DI), R9           // R9: timer-ops block of the owning worker
	TESTQ R9, R9
	JZ    close_global
	MOVQ  OPS_N(R9), R11
	CMPQ  R11, $OPS_MAX
	JAE   close_slow
	LEAQ  1(DI), AX               // AX: t | 1 = "close t"
	MOVQ  AX, OPS_LIST(R9)(R11*8)
	INCQ  R11
	MOVQ  R11, OPS_N(R9)
close_ret:
	RET
close_slow:
	MOVQ  OPS_SLOW_CLOSE(R9), AX
	JMP   AX                      // tail call with DI untouched
close_global:
	MOVQ  ·slowClosePtr(SB), AX
	JMP   AX

GLOBL ·timerOpenABI0(SB), NOPTR|RODATA, $8
DATA ·timerOpenABI0(SB)/8, $awake_host_timer_open(SB)
GLOBL ·timerCloseABI0(SB), NOPTR|RODATA, $8
DATA ·timerCloseABI0(SB)/8, $awake_host_timer_close(SB)
