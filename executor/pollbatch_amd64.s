// awake_poll_batch: polls a batch of C futures in one crossing into C
// (BRIEF rule 3: a Go -> C call costs far more than a whole poll, so pay it
// once per batch). System V amd64, run through runtime.cgocall by the
// ccall trampoline.
//
// void awake_poll_batch(uint8_t *entries, uintptr_t n, uintptr_t budget)
// Each entry (pollblock.go) holds an awake_context at +0 (its waker's data,
// the task's cell, at +8), the poll function at +40, self at +48, the error
// slot at +56, the status at +64, the re-poll count at +68, the released
// cell state at +80 and the output buffer at +128; entries are 256 bytes
// apart. For each entry it claims the task's cell (sets QUEUED; see
// vtable/layout.go), calls poll(self, &entry.cx, &entry.out, &entry.err),
// stores the int32 status and releases the claim. A task that woke itself
// during a PENDING poll (NOTIFIED set) is polled again at once, up to
// budget times, without going through the run queue.

//go:build linux || darwin

#include "textflag.h"

#define E_CELL 8
#define E_POLL 40
#define E_SELF 48
#define E_ERR 56
#define E_STATUS 64
#define E_REPOLLS 68
#define E_RELEASED 80
#define E_OUT 128
#define E_SIZE 256
#define S_QUEUED 1
#define S_NOTIFIED 2
#define S_REFSTEP 4

TEXT awake_poll_batch(SB), NOSPLIT|NOFRAME, $0-0
	PUSHQ BX                  // callee-saved registers we use, saved; five
	PUSHQ R12                 // pushes keep RSP 16-byte aligned at the
	PUSHQ R13                 // calls below
	PUSHQ R14                 // (R14 is only a C callee-saved register here:
	PUSHQ R15                 // this code runs on the C stack, with no g)
	MOVQ  DI, BX              // BX: current entry (callee-saved)
	MOVQ  SI, R12             // R12: entries left (callee-saved)
	MOVQ  DX, R13             // R13: re-poll budget per entry (callee-saved)
loop:
	TESTQ R12, R12
	JZ    done
	MOVL  $0, E_REPOLLS(BX)   // entry.repolls = 0
	MOVQ  $0, E_RELEASED(BX)  // entry.released = 0: no claim (yet)
	MOVQ  E_CELL(BX), R15     // R15: the task's cell (callee-saved)
	LOCK
	BTSQ  $0, (R15)           // claim: set QUEUED; CF = it was set already
	MOVQ  R13, R14            // R14: re-polls left for this entry
	JCC   poll                // claimed
	XORL  R15, R15            // R15: 0 = no claim (the cell is queued: a
	XORL  R14, R14            // wake came after the drain), no re-polls
poll:
	MOVQ  E_SELF(BX), DI      // DI: self
	MOVQ  BX, SI              // SI: &entry.cx
	LEAQ  E_OUT(BX), DX       // DX: &entry.out
	LEAQ  E_ERR(BX), CX       // CX: &entry.err
	MOVQ  E_POLL(BX), R11     // R11: poll
	XORL  AX, AX              // AL: no vector registers (variadic callees)
	CALL  R11
	MOVL  AX, E_STATUS(BX)    // entry.status = (int32)EAX
	TESTQ R15, R15
	JZ    next                // not claimed: the cell is in the run queue
	MOVQ  (R15), AX           // AX: observed cell state
release:
	CMPL  E_STATUS(BX), $0
	JNE   release_all         // READY, ERROR...: the task is over
	TESTQ $S_NOTIFIED, AX
	JZ    release_all         // no wake during the poll
	CMPQ  AX, $S_REFSTEP
	JLT   release_all         // no reference left (over-drop): Go repairs
	TESTQ R14, R14
	JZ    release_all         // budget spent: Go requeues the task
	MOVQ  AX, CX
	ANDQ  $-3, CX             // CX: state without NOTIFIED (keeps the claim)
	LOCK
	CMPXCHGQ CX, (R15)        // state == AX ? state = CX : AX = state
	JNE   release
	DECQ  R14
	INCL  E_REPOLLS(BX)       // entry.repolls++
	JMP   poll                // the task woke itself: poll it again now
release_all:
	MOVQ  AX, CX
	ANDQ  $-4, CX             // CX: state without QUEUED and NOTIFIED
	LOCK
	CMPXCHGQ CX, (R15)        // state == AX ? state = CX : AX = state
	JNE   release
	MOVQ  AX, E_RELEASED(BX)  // entry.released = state before (QUEUED set)
next:
	ADDQ  $E_SIZE, BX
	DECQ  R12
	JMP   loop
done:
	POPQ  R15
	POPQ  R14
	POPQ  R13
	POPQ  R12
	POPQ  BX
	RET

GLOBL ·pollBatchABI0(SB), NOPTR|RODATA, $8
DATA ·pollBatchABI0(SB)/8, $awake_poll_batch(SB)
