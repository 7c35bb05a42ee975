// awake_poll_batch: polls a batch of C futures in one crossing into C; see
// pollbatch_amd64.s for the entry layout and the claim/release protocol.
// AAPCS64: touches R0-R9 (caller-saved), R19-R23 (callee-saved: saved and
// restored) and R30 (LR: saved and restored); never R18, R27 or R28.
// Atomics are LDAXR/STLXR loops, as in vtable/asm_arm64.s.

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
#define S_REFSTEP 4

// void awake_poll_batch(uint8_t *entries, uintptr_t n, uintptr_t budget)
TEXT awake_poll_batch(SB), NOSPLIT|NOFRAME, $0-0
	SUB   $48, RSP, RSP       // 48 bytes of C stack, 16-byte aligned
	MOVD  R19, 0(RSP)
	MOVD  R20, 8(RSP)
	MOVD  R21, 16(RSP)
	MOVD  R22, 24(RSP)
	MOVD  R23, 32(RSP)
	MOVD  R30, 40(RSP)
	MOVD  R0, R19             // R19: current entry
	MOVD  R1, R20             // R20: entries left
	MOVD  R2, R21             // R21: re-poll budget per entry
loop:
	CBZ   R20, done
	MOVW  ZR, E_REPOLLS(R19)  // entry.repolls = 0
	MOVD  ZR, E_RELEASED(R19) // entry.released = 0: no claim (yet)
	MOVD  E_CELL(R19), R23    // R23: the task's cell
	MOVD  R21, R22            // R22: re-polls left for this entry
claim:
	LDAXR (R23), R2           // R2: cell state, exclusive
	TBNZ  $0, R2, unclaimed   // QUEUED already: the cell is in the run queue
	ORR   $S_QUEUED, R2, R2
	STLXR R2, (R23), R3       // claim: set QUEUED
	CBNZ  R3, claim
	B     poll
unclaimed:
	CLREX
	MOVD  ZR, R23             // R23: 0 = no claim
	MOVD  ZR, R22             // no re-polls
poll:
	MOVD  E_SELF(R19), R0     // R0: self
	MOVD  R19, R1             // R1: &entry.cx
	ADD   $E_OUT, R19, R2     // R2: &entry.out
	ADD   $E_ERR, R19, R3     // R3: &entry.err
	MOVD  E_POLL(R19), R9     // R9: poll
	BL    (R9)
	MOVW  R0, E_STATUS(R19)   // entry.status = (int32)W0
	CBZ   R23, next           // not claimed: nothing to release
	MOVW  R0, R4              // R4: status
release:
	LDAXR (R23), R2           // R2: cell state, exclusive
	CBNZW R4, release_all     // READY, ERROR...: the task is over
	TBZ   $1, R2, release_all // no wake during the poll
	CMP   $S_REFSTEP, R2
	BLO   release_all         // no reference left (over-drop): Go repairs
	CBZ   R22, release_all    // budget spent: Go requeues the task
	AND   $-3, R2, R3         // R3: state without NOTIFIED (keeps the claim)
	STLXR R3, (R23), R5
	CBNZ  R5, release
	SUB   $1, R22, R22
	MOVWU E_REPOLLS(R19), R5
	ADD   $1, R5, R5
	MOVW  R5, E_REPOLLS(R19)  // entry.repolls++
	B     poll                // the task woke itself: poll it again now
release_all:
	AND   $-4, R2, R3         // R3: state without QUEUED and NOTIFIED
	STLXR R3, (R23), R5
	CBNZ  R5, release
	MOVD  R2, E_RELEASED(R19) // entry.released = state before (QUEUED set)
next:
	ADD   $E_SIZE, R19, R19
	SUB   $1, R20, R20
	B     loop
done:
	MOVD  0(RSP), R19
	MOVD  8(RSP), R20
	MOVD  16(RSP), R21
	MOVD  24(RSP), R22
	MOVD  32(RSP), R23
	MOVD  40(RSP), R30
	ADD   $48, RSP, RSP
	RET

GLOBL ·pollBatchABI0(SB), NOPTR|RODATA, $8
DATA ·pollBatchABI0(SB)/8, $awake_poll_batch(SB)
