// Runtime-free timer_open / timer_close for the host table (AAPCS64); see
// timerops.go. They use only R0-R2 (arguments, left untouched before a tail
// call to the slow path) and R9-R14 (temporaries); never R18 or R28, and R27 only saved and restored around a Go global load; no
// Go stack, no g.

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
// in: R0 = cx, R1 = deadline, R2 = out.
TEXT awake_host_timer_open(SB), NOSPLIT|NOFRAME, $0-0
	CBZ   R0, invalid
	CBZ   R2, invalid
	MOVD  CX_HOST_DATA(R0), R9    // R9: the poll entry (cx->host_data)
	CBZ   R9, slow_global         // not an executor poll: let Go decide
	MOVD  ENTRY_OPS(R9), R10      // R10: the worker's timer-ops block
	CBZ   R10, slow_global
	MOVD  OPS_FREE_N(R10), R11    // R11: free timers
	CBZ   R11, slow               // none left: refill in Go
	MOVD  OPS_N(R10), R12         // R12: queued operations
	CMP   $OPS_MAX, R12
	BHS   slow                    // queue full: flush in Go
	SUB   $1, R11, R11
	MOVD  R11, OPS_FREE_N(R10)
	ADD   $OPS_FREE, R10, R13     // R13: &free[0]
	MOVD  (R13)(R11<<3), R9       // R9: the timer
	MOVD  R1, T_DEADLINE(R9)      // t->deadline_ns = deadline
	ADD   $OPS_LIST, R10, R13     // R13: &ops[0]
	MOVD  R9, (R13)(R12<<3)       // queue "arm t"
	ADD   $1, R12, R12
	MOVD  R12, OPS_N(R10)
	MOVD  R9, (R2)                // *out = t
	MOVW  $0, R0                  // AWAKE_OK
	RET
slow:
	MOVD  OPS_SLOW_OPEN(R10), R9
	B     (R9)                    // tail call with R0-R2 untouched
slow_global:
	MOVD  R27, R14                // loading a Go global clobbers R27, which
	MOVD  ·slowOpenPtr(SB), R9    // C expects preserved: save and restore it
	MOVD  R14, R27
	B     (R9)
invalid:
	CBZ   R2, invalid_ret
	MOVD  ZR, (R2)                // *out = NULL
invalid_ret:
	MOVW  $-1, R0                 // AWAKE_E_INVALID
	RET

// void timer_close(awake_timer *t). in: R0 = t.
TEXT awake_host_timer_close(SB), NOSPLIT|NOFRAME, $0-0
	CBZ   R0, close_ret
	MOVD  T_TAG(R0), R10          // R10: timer-ops block of the owning worker
	CBZ   R10, close_global
	MOVD  OPS_N(R10), R12
	CMP   $OPS_MAX, R12
	BHS   close_slow
	ORR   $1, R0, R11             // R11: t | 1 = "close t"
	ADD   $OPS_LIST, R10, R13
	MOVD  R11, (R13)(R12<<3)
	ADD   $1, R12, R12
	MOVD  R12, OPS_N(R10)
close_ret:
	RET
close_slow:
	MOVD  OPS_SLOW_CLOSE(R10), R9
	B     (R9)                    // tail call with R0 untouched
close_global:
	MOVD  R27, R14
	MOVD  ·slowClosePtr(SB), R9
	MOVD  R14, R27
	B     (R9)

GLOBL ·timerOpenABI0(SB), NOPTR|RODATA, $8
DATA ·timerOpenABI0(SB)/8, $awake_host_timer_open(SB)
GLOBL ·timerCloseABI0(SB), NOPTR|RODATA, $8
DATA ·timerCloseABI0(SB)/8, $awake_host_timer_close(SB)
