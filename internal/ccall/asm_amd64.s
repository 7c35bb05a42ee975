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

// awake_ccall_list: makes a list of C calls in one crossing (System V
// amd64; run through awake_ccall6, so it is itself an ordinary C function).
//
// void awake_ccall_list(uintptr_t *list, uintptr_t n)
// list holds n entries of ListEntrySize bytes: fn at +0, four argument
// words at +8..+32, and the result register stored at +40 (list.go).
TEXT awake_ccall_list(SB), NOSPLIT|NOFRAME, $0-0
	PUSHQ BX                  // BX, R12: callee-saved in C, saved here; the
	PUSHQ R12                 // third push keeps RSP 16-byte aligned at
	PUSHQ R13                 // the calls below (R13 itself is unused)
	MOVQ  DI, BX              // BX: current entry, preserved by the callees
	MOVQ  SI, R12             // R12: entries left, preserved by the callees
list_loop:
	TESTQ R12, R12
	JZ    list_done
	MOVQ  8(BX), DI           // DI: a[0]
	MOVQ  16(BX), SI          // SI: a[1]
	MOVQ  24(BX), DX          // DX: a[2]
	MOVQ  32(BX), CX          // CX: a[3]
	MOVQ  0(BX), R11          // R11: fn
	XORL  AX, AX              // AL: no vector registers (variadic callees)
	CALL  R11
	MOVQ  AX, 40(BX)          // entry.r0
	ADDQ  $48, BX             // next entry
	DECQ  R12
	JMP   list_loop
list_done:
	POPQ  R13
	POPQ  R12
	POPQ  BX
	RET

GLOBL ·listABI0(SB), NOPTR|RODATA, $8
DATA ·listABI0(SB)/8, $awake_ccall_list(SB)
