// awake_ccall6: the C-ABI trampoline run by runtime.cgocall on the system
// stack (AAPCS64). in: R0 = *frame. Calls frame.fn with the six argument
// words and stores X0 and X1 back into the frame. Touches R0-R9 (caller-
// saved), R19 (callee-saved: saved and restored) and R30 (LR: saved and
// restored); never R18, R27 or R28.

//go:build linux || darwin

#include "textflag.h"

TEXT awake_ccall6(SB), NOSPLIT|NOFRAME, $0-0
	SUB   $16, RSP, RSP       // 16 bytes of C stack, alignment kept
	MOVD  R19, 0(RSP)         // save callee-saved R19
	MOVD  R30, 8(RSP)         // save LR
	MOVD  R0, R19             // R19: frame, preserved by the callee
	MOVD  8(R19), R0          // R0: a[0]
	MOVD  16(R19), R1         // R1: a[1]
	MOVD  24(R19), R2         // R2: a[2]
	MOVD  32(R19), R3         // R3: a[3]
	MOVD  40(R19), R4         // R4: a[4]
	MOVD  48(R19), R5         // R5: a[5]
	MOVD  0(R19), R9          // R9: fn
	BL    (R9)
	MOVD  R0, 56(R19)         // frame.r0
	MOVD  R1, 64(R19)         // frame.r1
	MOVD  0(RSP), R19
	MOVD  8(RSP), R30
	ADD   $16, RSP, RSP
	RET

GLOBL ·trampolineABI0(SB), NOPTR|RODATA, $8
DATA ·trampolineABI0(SB)/8, $awake_ccall6(SB)

// awake_ccall_list: makes a list of C calls in one crossing (AAPCS64; run
// through awake_ccall6, so it is itself an ordinary C function).
//
// void awake_ccall_list(uintptr_t *list, uintptr_t n)
// list holds n entries of ListEntrySize bytes: fn at +0, four argument
// words at +8..+32, and the result register stored at +40 (list.go).
// Touches R0-R3 and R9 (caller-saved), R19 and R20 (callee-saved: saved and
// restored) and R30 (LR: saved and restored); never R18, R27 or R28.
TEXT awake_ccall_list(SB), NOSPLIT|NOFRAME, $0-0
	SUB   $32, RSP, RSP       // 32 bytes of C stack, alignment kept
	MOVD  R19, 0(RSP)         // save callee-saved R19
	MOVD  R20, 8(RSP)         // save callee-saved R20
	MOVD  R30, 16(RSP)        // save LR
	MOVD  R0, R19             // R19: current entry, preserved by the callees
	MOVD  R1, R20             // R20: entries left, preserved by the callees
list_loop:
	CBZ   R20, list_done
	MOVD  8(R19), R0          // R0: a[0]
	MOVD  16(R19), R1         // R1: a[1]
	MOVD  24(R19), R2         // R2: a[2]
	MOVD  32(R19), R3         // R3: a[3]
	MOVD  0(R19), R9          // R9: fn
	BL    (R9)
	MOVD  R0, 40(R19)         // entry.r0
	ADD   $48, R19, R19       // next entry
	SUB   $1, R20, R20
	B     list_loop
list_done:
	MOVD  0(RSP), R19
	MOVD  8(RSP), R20
	MOVD  16(RSP), R30
	ADD   $32, RSP, RSP
	RET

GLOBL ·listABI0(SB), NOPTR|RODATA, $8
DATA ·listABI0(SB)/8, $awake_ccall_list(SB)
