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
