// awake_poll_batch: polls a batch of C futures in one crossing into C; see
// pollbatch_amd64.s for the entry layout. AAPCS64: touches R0-R9
// (caller-saved), R19/R20 (callee-saved: saved and restored) and R30 (LR:
// saved and restored); never R18, R27 or R28.

//go:build linux || darwin

#include "textflag.h"

TEXT awake_poll_batch(SB), NOSPLIT|NOFRAME, $0-0
	SUB   $32, RSP, RSP       // 32 bytes of C stack, 16-byte aligned
	MOVD  R19, 0(RSP)
	MOVD  R20, 8(RSP)
	MOVD  R30, 16(RSP)
	MOVD  R0, R19             // R19: current entry
	MOVD  R1, R20             // R20: entries left
loop:
	CBZ   R20, done
	MOVD  48(R19), R0         // R0: self
	MOVD  R19, R1             // R1: &entry.cx
	ADD   $128, R19, R2       // R2: &entry.out
	ADD   $56, R19, R3        // R3: &entry.err
	MOVD  40(R19), R9         // R9: poll
	BL    (R9)
	MOVW  R0, 64(R19)         // entry.status = (int32)W0
	ADD   $256, R19, R19
	SUB   $1, R20, R20
	B     loop
done:
	MOVD  0(RSP), R19
	MOVD  8(RSP), R20
	MOVD  16(RSP), R30
	ADD   $32, RSP, RSP
	RET

GLOBL ·pollBatchABI0(SB), NOPTR|RODATA, $8
DATA ·pollBatchABI0(SB)/8, $awake_poll_batch(SB)
