// awake_ccall6: the C-ABI trampoline run by runtime.cgocall on the system
// stack (System V amd64). in: DI = *frame. Calls frame.fn with the six
// argument words and stores RAX and RDX back into the frame.

//go:build linux || darwin

#include "textflag.h"

TEXT awake_ccall6(SB), NOSPLIT|NOFRAME, $0-0
	PUSHQ BX                  // BX is callee-saved in C: keep the caller's
	                          // value; the push also makes RSP 16-byte
	                          // aligned for the call below
	MOVQ  DI, BX              // BX: frame, preserved by the callee
	MOVQ  8(BX), DI           // DI: a[0]
	MOVQ  16(BX), SI          // SI: a[1]
	MOVQ  24(BX), DX          // DX: a[2]
	MOVQ  32(BX), CX          // CX: a[3]
	MOVQ  40(BX), R8          // R8: a[4]
	MOVQ  48(BX), R9          // R9: a[5]
	MOVQ  0(BX), R11          // R11: fn
	XORL  AX, AX              // AL: no vector registers (variadic callees)
	CALL  R11
	MOVQ  AX, 56(BX)          // frame.r0
	MOVQ  DX, 64(BX)          // frame.r1
	POPQ  BX
	RET

GLOBL ·trampolineABI0(SB), NOPTR|RODATA, $8
DATA ·trampolineABI0(SB)/8, $awake_ccall6(SB)
