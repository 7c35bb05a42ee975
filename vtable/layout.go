package vtable

// Cell layout (64 bytes, one cache line, so wakers of different tasks woken
// from different threads do not share a line). The assembly files hard-code
// these offsets; layout_test.go checks they agree.
//
//	off  field    owner
//	0    state    atomic: bit 0 QUEUED, bit 1 NOTIFIED, bits 2..63 reference count (step 4)
//	8    next     the queue link, written by the pusher before publishing
//	16   queue    address of the owning queue block (fixed at allocation)
//	24   vtable   address of the host vtable (returned by clone)
//	32   token    Go-only: the executor's task token
//	40   misuse   atomic: count of drops/clones on a cell with no reference
//	48   -        reserved
//
// state transitions (Q = QUEUED, N = NOTIFIED, r = refs):
//
//	clone:        r -> r+1                      (r == 0: misuse, counted, no-op)
//	wake_by_ref:  Q,N |= 1,1; on Q 0 -> 1 push the cell   (Q already 1: coalesced)
//	drop:         r -> r-1; at r == 0 wake, so the cell is pushed (the executor reclaims it)
//	wake:         wake_by_ref, then drop
//	drain (Go):   pop; Q,N -> 0,0; r == 0 ? reclaim : report token as woken
//	claim:        Q 0 -> 1 by the executor's batch poller before it polls the
//	              task (Q already 1: the cell is queued; poll without a claim)
//	release:      after the poll of a claimed cell: N == 1, PENDING, r > 0 and
//	              budget left ? N -> 0 and poll again : Q,N -> 0,0
//
// A cell is in the queue at most once (only the Q 0 -> 1 edge pushes), so the
// single link word suffices and no wake is lost: a wake after the executor
// cleared Q pushes the cell again. While the poller holds a claim, Q is set
// but the cell is not in the queue: wakes during the poll only set N, and
// the poller, not the queue, polls the task again (a self-waking task is
// re-polled inside one crossing into C; see RATIONALE.md). N implies Q.
const (
	cellSize      = 64
	cellState     = 0
	cellNext      = 8
	cellQueue     = 16
	cellVtable    = 24
	cellToken     = 32
	cellMisuse    = 40
	stateQueued   = 1
	stateNotified = 2
	stateRefStep  = 4
)

// Cell state bits, for the executor's batch poller, which claims and
// releases cells in assembly (see the transitions above).
const (
	StateQueued   = stateQueued
	StateNotified = stateNotified
	StateRefStep  = stateRefStep
)

// Queue block layout (one per queue, in its own mmap'd page).
//
//	off  field     meaning
//	0    head      Treiber-stack head: address of the last pushed cell, 0 = empty
//	64   sleeping  0 running, 1 about to sleep (the next pusher writes fd), 2 closed
//	72   fd        the executor's eventfd (darwin: pipe write end)
//	80   one       the 8-byte value 1 that write(2) sends
//	88   write     darwin only: address of libc write, tail-called by the assembly
//
// head sits alone on its cache line: every foreign wake CASes it, while
// sleeping is written only around the executor's sleeps.
const (
	qHead     = 0
	qSleeping = 64
	qFd       = 72
	qOne      = 80
	qWrite    = 88
	qSize     = 4096

	sleepRunning = 0
	sleepAsleep  = 1
	sleepClosed  = 2
)
