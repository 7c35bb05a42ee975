// Host waker vtable for amd64: C-callable (System V ABI), runtime-free.
//
// Called from C on a C stack, from any thread, possibly one the Go runtime
// never saw: these functions use no Go stack, no g (R14 is never read or
// written), no Go globals and only caller-saved registers (AX, CX, DX, SI,
// DI, R8, R9, R11). They touch a cell and its queue block (layout.go) with
// LOCK-prefixed instructions, and at most issue one raw write(2) (Linux) or
// tail-call libc write through a pointer in the queue block (darwin).

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
// in: DI = cell. out: AX = cell, DX = host vtable (the RawWaker pair).
TEXT awake_host_waker_clone(SB), NOSPLIT|NOFRAME, $0-0
	MOVQ CELL_STATE(DI), AX       // AX: observed state
clone_retry:
	CMPQ AX, $4                   // refs == 0 (state < 4)?
	JLT  clone_misuse             // a clone of a dead waker: count, no-op
	LEAQ 4(AX), CX                // CX: state with one more reference
	LOCK
	CMPXCHGQ CX, CELL_STATE(DI)   // state == AX ? state = CX : AX = state
	JNE  clone_retry
	MOVQ DI, AX                   // AX: returned data word
	MOVQ CELL_VTABLE(DI), DX      // DX: returned vtable word
	RET
clone_misuse:
	LOCK
	INCQ CELL_MISUSE(DI)          // cell.misuse++
	MOVQ DI, AX                   // still return a well-formed waker
	MOVQ CELL_VTABLE(DI), DX
	RET

// void wake_by_ref(const void *data). in: DI = cell.
TEXT awake_host_waker_wake_by_ref(SB), NOSPLIT|NOFRAME, $0-0
	MOVQ DI, R8                   // R8: cell (DI is reused for write(2))
	JMP  wakecore<>(SB)

// void wake(const void *data): wake_by_ref, then drop (the reference is
// held while the cell is queued). in: DI = cell.
TEXT awake_host_waker_wake(SB), NOSPLIT|NOFRAME, $0-0
	PUSHQ DI                      // save the cell on the C stack: on darwin
	                              // wakecore may tail-call libc write, which
	                              // clobbers every caller-saved register
	MOVQ DI, R8                   // R8: cell for wakecore
	CALL wakecore<>(SB)           // RSP stays ABI-aligned for libc write
	POPQ DI                       // DI: cell again for drop
	JMP  awake_host_waker_drop(SB)

// void drop(const void *data). in: DI = cell.
TEXT awake_host_waker_drop(SB), NOSPLIT|NOFRAME, $0-0
	MOVQ CELL_STATE(DI), AX       // AX: observed state
drop_retry:
	CMPQ AX, $4                   // refs == 0 already?
	JLT  drop_misuse              // over-drop: count it, never underflow
	LEAQ -4(AX), CX               // CX: state with one reference fewer
	LOCK
	CMPXCHGQ CX, CELL_STATE(DI)   // state == AX ? state = CX : AX = state
	JNE  drop_retry
	SHRQ $2, AX                   // AX: references before this drop
	CMPQ AX, $1
	JNE  drop_done                // others remain
	MOVQ DI, R8                   // last reference: queue the cell so the
	JMP  wakecore<>(SB)           // executor reclaims it
drop_done:
	RET
drop_misuse:
	LOCK
	INCQ CELL_MISUSE(DI)          // cell.misuse++
	RET

// wakecore: set QUEUED and NOTIFIED in one atomic step; on the QUEUED
// 0 -> 1 edge push the cell and, if the executor announced it sleeps, write
// its eventfd once. QUEUED already set means the cell is queued or being
// polled (the poller claimed it): NOTIFIED tells the poller to poll again.
// in: R8 = cell. clobbers: AX, CX, DX, SI, DI, R9, R11 (darwin: whatever
// libc write clobbers).
TEXT wakecore<>(SB), NOSPLIT|NOFRAME, $0-0
	MOVQ CELL_STATE(R8), AX       // AX: observed state
wake_or:
	MOVQ AX, CX
	ORQ  $3, CX                   // CX: state | QUEUED | NOTIFIED
	LOCK
	CMPXCHGQ CX, CELL_STATE(R8)   // state == AX ? state = CX : AX = state
	JNE  wake_or                  // (always a locked write: a full barrier
	                              // even when the wake coalesces)
	TESTQ $1, AX
	JNZ  wake_done                // was QUEUED: the wakes coalesce
	MOVQ CELL_QUEUE(R8), R9       // R9: queue block
wake_push:
	MOVQ Q_HEAD(R9), AX           // AX: head we expect
	MOVQ AX, CELL_NEXT(R8)        // cell.next = head (published by the CAS)
	LOCK
	CMPXCHGQ R8, Q_HEAD(R9)       // head == AX ? head = cell : AX = head
	JNE  wake_push
	// The LOCKed CAS is a full barrier: this load is ordered after the push,
	// pairing with the executor's store-sleeping-then-check-head.
	MOVQ Q_SLEEPING(R9), AX       // AX: sleeping state
	CMPQ AX, $1
	JNE  wake_done                // running or closed: nothing to do
	XORL CX, CX                   // CX: 0 = running
	LOCK
	CMPXCHGQ CX, Q_SLEEPING(R9)   // sleeping 1 -> 0: only one pusher writes
	JNE  wake_done
	MOVQ Q_FD(R9), DI             // DI: fd
	LEAQ Q_ONE(R9), SI            // SI: &one (8 bytes)
	MOVQ $8, DX                   // DX: count
#ifdef GOOS_darwin
	MOVQ Q_WRITE(R9), AX          // AX: libc write
	JMP  AX                       // tail call: write returns to our caller
#else
	MOVQ $1, AX                   // AX: SYS_write
	SYSCALL                       // clobbers CX, R11; result in AX (ignored:
	                              // EAGAIN means the fd is already readable)
#endif
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
