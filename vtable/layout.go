package vtable

// Cell layout (64 bytes, one cache line, so wakers of different tasks woken
// from different threads do not share a line). The assembly files hard-code
// these offsets; layout_test.go checks they agree.
//
//	off  field    owner
//	0    state    atomic: bit 0 QUEUED, bits 1..63 reference count (step 2)
//	8    next     the queue link, written by the pusher before publishing
//	16   queue    address of the owning queue block (fixed at allocation)
//	24   vtable   address of the host vtable (returned by clone)
//	32   token    Go-only: the executor's task token
//	40   misuse   atomic: count of drops/clones on a cell with no reference
//	48   -        reserved
//
// state transitions (Q = QUEUED, r = refs):
//
//	clone:        r -> r+1                      (r == 0: misuse, counted, no-op)
//	wake_by_ref:  Q 0 -> 1 and push the cell     (Q already 1: coalesced)
//	drop:         r -> r-1; at r == 0 set Q and push (the executor reclaims it)
//	wake:         wake_by_ref, then drop
//	drain (Go):   pop; Q 1 -> 0; r == 0 ? reclaim : report token as woken
//
// A cell is in the queue at most once (only the Q 0 -> 1 edge pushes), so the
// single link word suffices and no wake is lost: a wake after the executor
// cleared Q pushes the cell again.
const (
	cellSize     = 64
	cellState    = 0
	cellNext     = 8
	cellQueue    = 16
	cellVtable   = 24
	cellToken    = 32
	cellMisuse   = 40
	stateQueued  = 1
	stateRefStep = 2
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
