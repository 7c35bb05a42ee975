package ccall

import (
	"fmt"
	"unsafe"

	"golang.org/x/sys/unix"
)

// List is a list of C calls made in one crossing into C. An executor worker
// batches the make and drop calls of many tasks this way: the crossing
// (runtime.cgocall) costs more than a plugin's make or drop does. Its memory
// is outside the Go heap, so the entries, the scratch words a callee writes
// through pointers the caller sets up (Scratch), and the argument bytes
// copied into its arena (Copy) are all C-visible. A List is used by one
// goroutine; calls through it must not be Go functions.
//
// Memory layout (awake_ccall_list in asm_*.s reads the entries):
//
//	entries  ListMax x ListEntrySize: fn, a[0..3], r0
//	scratch  ListMax x 4 words, zeroed by Add
//	arena    ListArena bytes for Copy
type List struct {
	mem   []byte
	base  uintptr
	n     int // entries added since Reset
	arena int // arena bytes used since Reset
}

// The sizes of a List.
const (
	ListEntrySize = 48       // fn, four argument words, the result word
	ListMax       = 64       // entries per list (run it when Full)
	ListArena     = 16 << 10 // bytes of copied arguments per list

	listScratch = ListMax * ListEntrySize
	listArena   = listScratch + ListMax*32
	listSize    = listArena + ListArena
)

// listEntry mirrors one entry.
type listEntry struct {
	fn uintptr
	a  [4]uintptr
	r0 uintptr
}

// NewList maps a List's memory.
func NewList() (*List, error) {
	mem, err := unix.Mmap(-1, 0, listSize, unix.PROT_READ|unix.PROT_WRITE, unix.MAP_PRIVATE|unix.MAP_ANON)
	if err != nil {
		return nil, fmt.Errorf("awake: mapping a C call list: %w", err)
	}
	return &List{mem: mem, base: uintptr(unsafe.Pointer(&mem[0]))}, nil
}

// Len returns how many calls were added since Reset.
func (l *List) Len() int { return l.n }

// Full reports whether the list holds ListMax calls.
func (l *List) Full() bool { return l.n == ListMax }

func (l *List) entry(i int) *listEntry {
	return (*listEntry)(unsafe.Pointer(&l.mem[i*ListEntrySize]))
}

// Add appends a call of the C function fn with four argument words (which
// must not be Go pointers) and returns its index. Its scratch words keep
// whatever they held: use AddOut for a call that writes through Scratch.
// The list must not be Full.
func (l *List) Add(fn, a0, a1, a2, a3 uintptr) int {
	i := l.n
	e := l.entry(i)
	e.fn, e.a[0], e.a[1], e.a[2], e.a[3] = fn, a0, a1, a2, a3
	l.n++
	return i
}

// AddOut is Add with the entry's four scratch words zeroed first, for a
// callee that writes some of them (out-parameters set up with Scratch)
// and leaves others untouched.
func (l *List) AddOut(fn, a0, a1, a2, a3 uintptr) int {
	*(*[4]uintptr)(unsafe.Pointer(&l.mem[listScratch+l.n*32])) = [4]uintptr{}
	return l.Add(fn, a0, a1, a2, a3)
}

// Scratch returns the C address of scratch word k (0..3) of entry i, for
// a callee's out-parameters.
func (l *List) Scratch(i, k int) uintptr { return l.base + uintptr(listScratch+i*32+k*8) }

// Word reads scratch word k of entry i.
func (l *List) Word(i, k int) uintptr {
	return *(*uintptr)(unsafe.Pointer(&l.mem[listScratch+i*32+k*8]))
}

// Result returns what call i returned (its first result register), once
// the list has run.
func (l *List) Result(i int) uintptr { return l.entry(i).r0 }

// Copy copies b into the list's arena and returns its C address; 0 for an
// empty b. It reports false when b does not fit in what is left of the
// arena (run the list and Reset it first; a b larger than ListArena never
// fits).
func (l *List) Copy(b string) (uintptr, bool) {
	if len(b) == 0 {
		return 0, true
	}
	if len(b) > ListArena-l.arena {
		return 0, false
	}
	p := listArena + l.arena
	copy(l.mem[p:], b)
	l.arena += (len(b) + 7) &^ 7 // keep each copy word-aligned
	return l.base + uintptr(p), true
}

// Run makes the calls in order, in one crossing into C through fr (the
// caller's frames), and stores each result.
func (l *List) Run(fr *Frames) {
	if l.n > 0 {
		runList(fr, l)
	}
}

// Reset empties the list and its arena.
func (l *List) Reset() { l.n, l.arena = 0, 0 }

// Close unmaps the list; no call may be in progress.
func (l *List) Close() error { return unix.Munmap(l.mem) }
