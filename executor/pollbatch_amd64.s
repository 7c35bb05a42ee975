// awake_poll_batch: polls a batch of C futures in one crossing into C
// (BRIEF rule 3: a Go -> C call costs far more than a whole poll, so pay it
// once per batch). System V amd64, run through runtime.cgocall by the
// ccall trampoline.
//
// void awake_poll_batch(uint8_t *entries, uintptr_t n)
// Each entry (pollblock.go) holds an awake_context at +0, the poll function
// at +40, self at +48, the error slot at +56, the status at +64 and the
// output buffer at +128; entries are 256 bytes apart. For each entry it
// calls poll(self, &entry.cx, &entry.out, &entry.err) and stores the int32
// status.

//go:build linux || darwin

#include "textflag.h"

TEXT awake_poll_batch(SB), NOSPLIT|NOFRAME, $0-0
	PUSHQ BX                  // callee-saved registers we use, saved; three
	PUSHQ R12                 // pushes keep RSP 16-byte aligned at the
	PUSHQ R13                 // calls below (R13 is only padding)
	MOVQ  DI, BX              // BX: current entry (callee-saved)
	MOVQ  SI, R12             // R12: entries left (callee-saved)
loop:
	TESTQ R12, R12
	JZ    done
	MOVQ  48(BX), DI          // DI: self
	MOVQ  BX, SI              // SI: &entry.cx
	LEAQ  128(BX), DX         // DX: &entry.out
	LEAQ  56(BX), CX          // CX: &entry.err
	MOVQ  40(BX), R11         // R11: poll
	XORL  AX, AX              // AL: no vector registers (variadic callees)
	CALL  R11
	MOVL  AX, 64(BX)          // entry.status = (int32)EAX
	ADDQ  $256, BX
	DECQ  R12
	JMP   loop
done:
	POPQ  R13
	POPQ  R12
	POPQ  BX
	RET

GLOBL ·pollBatchABI0(SB), NOPTR|RODATA, $8
DATA ·pollBatchABI0(SB)/8, $awake_poll_batch(SB)
