// Host waker vtable for arm64: C-callable (AAPCS64), runtime-free.
//
// Called from C on a C stack, from any thread, possibly one the Go runtime
// never saw: these functions use no Go stack and no g, and only registers the
// C caller does not expect preserved: R0-R9 (arguments/temporaries) and R30
// (LR, restored before returning). They never touch R18 (platform register
// on darwin), R27 (the Go assembler's scratch; loading a Go global would
// clobber it, so no Go global is read) or R28 (g). Atomics are LDAXR/STLXR
// loops, so the code runs on every ARMv8.0 core and under qemu-user.

//go:build linux || darwin

#include "textflag.h"

#define CELL_STATE 0
#define CELL_NEXT 8
#define CELL_QUEUE 16
#define CELL_VTABLE 24
#define CELL_MISUSE 40
#define Q_HEAD 0
#define Q_SLEEPING 64
#define Q_FD 72
#define Q_ONE 80
#define Q_WRITE 88

// awake_waker clone(const void *data)
// in: R0 = cell. out: R0 = cell, R1 = host vtable (the RawWaker pair).
TEXT awake_host_waker_clone(SB), NOSPLIT|NOFRAME, $0-0
clone_retry:
	LDAXR (R0), R2                // R2: state, exclusive
	CMP   $4, R2
	BLO   clone_misuse            // refs == 0: a clone of a dead waker
	ADD   $4, R2, R2              // one more reference
	STLXR R2, (R0), R3            // R3: 0 if the store won
	CBNZ  R3, clone_retry
	MOVD  CELL_VTABLE(R0), R1     // R1: returned vtable word (R0 stays data)
	RET
clone_misuse:
	CLREX                         // drop the exclusive monitor
	ADD   $CELL_MISUSE, R0, R4    // R4: &cell.misuse
clone_count:
	LDAXR (R4), R2
	ADD   $1, R2, R2
	STLXR R2, (R4), R3
	CBNZ  R3, clone_count
	MOVD  CELL_VTABLE(R0), R1     // still return a well-formed waker
	RET

// void wake_by_ref(const void *data). in: R0 = cell.
TEXT awake_host_waker_wake_by_ref(SB), NOSPLIT|NOFRAME, $0-0
	B     wakecore<>(SB)          // tail call: wakecore returns to our caller

// void wake(const void *data): wake_by_ref, then drop (the reference is
// held while the cell is queued). in: R0 = cell.
TEXT awake_host_waker_wake(SB), NOSPLIT|NOFRAME, $0-0
	MOVD.W R30, -16(RSP)          // push LR; SP stays 16-byte aligned
	MOVD  R0, 8(RSP)              // save the cell: wakecore (and, on darwin,
	                              // libc write) clobber R0-R17
	BL    wakecore<>(SB)
	MOVD  8(RSP), R0              // R0: cell again
	MOVD.P 16(RSP), R30           // pop LR
	B     awake_host_waker_drop(SB)

// void drop(const void *data). in: R0 = cell.
TEXT awake_host_waker_drop(SB), NOSPLIT|NOFRAME, $0-0
drop_retry:
	LDAXR (R0), R2                // R2: state, exclusive
	CMP   $4, R2
	BLO   drop_misuse             // refs == 0: over-drop, never underflow
	SUB   $4, R2, R3              // R3: one reference fewer
	STLXR R3, (R0), R4
	CBNZ  R4, drop_retry
	LSR   $2, R2, R2              // R2: references before this drop
	CMP   $1, R2
	BNE   drop_done
	B     wakecore<>(SB)          // last reference: queue the cell so the
	                              // executor reclaims it (tail call)
drop_done:
	RET
drop_misuse:
	CLREX
	ADD   $CELL_MISUSE, R0, R4    // R4: &cell.misuse
drop_count:
	LDAXR (R4), R2
	ADD   $1, R2, R2
	STLXR R2, (R4), R3
	CBNZ  R3, drop_count
	RET

// wakecore: set QUEUED and NOTIFIED in one atomic step; on the QUEUED
// 0 -> 1 edge push the cell and, if the executor announced it sleeps, write
// its eventfd once. QUEUED already set means the cell is queued or being
// polled (the poller claimed it): NOTIFIED tells the poller to poll again.
// The store-release happens even when the wake coalesces, so the waker's
// earlier writes are ordered before the poller's next read of the state.
// in: R0 = cell. clobbers: R0-R9 (darwin: whatever libc write clobbers).
TEXT wakecore<>(SB), NOSPLIT|NOFRAME, $0-0
	MOVD  R0, R5                  // R5: cell
set_queued:
	LDAXR (R5), R2                // R2: state, exclusive
	ORR   $3, R2, R4              // R4: state | QUEUED | NOTIFIED
	STLXR R4, (R5), R3
	CBNZ  R3, set_queued
	TBNZ  $0, R2, wake_done       // was QUEUED: the wakes coalesce
	MOVD  CELL_QUEUE(R5), R6      // R6: queue block
push:
	MOVD  Q_HEAD(R6), R7          // R7: head we expect
	MOVD  R7, CELL_NEXT(R5)       // cell.next = head (released by STLXR)
	LDAXR (R6), R2                // R2: head, exclusive
	CMP   R7, R2
	BNE   push_stale
	STLXR R5, (R6), R3            // head = cell
	CBNZ  R3, push
	// STLXR (release) then LDAR (acquire) are ordered (RCsc): this load is
	// after the push, pairing with the executor's store-then-check.
	ADD   $Q_SLEEPING, R6, R8     // R8: &queue.sleeping
	LDAR  (R8), R2                // R2: sleeping state
	CMP   $1, R2
	BNE   wake_done               // running or closed: nothing to do
	MOVD  $0, R9                  // R9: 0 = running
claim:
	LDAXR (R8), R2
	CMP   $1, R2
	BNE   claim_lost              // another pusher claimed the write
	STLXR R9, (R8), R3            // sleeping 1 -> 0
	CBNZ  R3, claim
	MOVD  Q_FD(R6), R0            // R0: fd
	ADD   $Q_ONE, R6, R1          // R1: &one
	MOVD  $8, R2                  // R2: count
#ifdef GOOS_darwin
	MOVD  Q_WRITE(R6), R9         // R9: libc write
	B     (R9)                    // tail call: write returns to our caller
#else
	MOVD  $64, R8                 // R8: SYS_write
	SVC                           // result in R0 (ignored: EAGAIN means the
	                              // fd is already readable)
	RET
#endif
push_stale:
	CLREX
	B     push
claim_lost:
	CLREX
wake_done:
	RET

// Addresses of the entry points, for building the vtable from Go.
GLOBL ·cloneABI0(SB), NOPTR|RODATA, $8
DATA ·cloneABI0(SB)/8, $awake_host_waker_clone(SB)
GLOBL ·wakeABI0(SB), NOPTR|RODATA, $8
DATA ·wakeABI0(SB)/8, $awake_host_waker_wake(SB)
GLOBL ·wakeByRefABI0(SB), NOPTR|RODATA, $8
DATA ·wakeByRefABI0(SB)/8, $awake_host_waker_wake_by_ref(SB)
GLOBL ·dropABI0(SB), NOPTR|RODATA, $8
DATA ·dropABI0(SB)/8, $awake_host_waker_drop(SB)
