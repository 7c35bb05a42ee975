package executor

// taskTable maps the tokens of a worker's waker cells to its live tasks: a
// slot per live task, reused after the task finishes, with a generation
// count per slot. A token is the slot's generation in the high 32 bits and
// the slot number plus one in the low 32 bits (never 0, the inbox token).
// A cell can outlive its task (a plugin keeps a clone): its token then
// names a slot whose generation moved on, or an empty slot, and lookup
// returns nil, so a late wake is stale and never reaches the slot's next
// task. (After 2^32 reuses of one slot an old token matches again; the
// wake then only costs a spurious poll of the slot's task, which every
// future must tolerate.) It replaces a map: a lookup is an index and a
// compare, an insert and a delete touch one slot.
type taskTable struct {
	slots []taskSlot
	free  []uint32 // empty slots, reused last in first out (warm in cache)
	live  int
}

type taskSlot struct {
	t   *task
	gen uint32
}

// insert gives t a slot and returns its token.
func (tt *taskTable) insert(t *task) uint64 {
	var i uint32
	if n := len(tt.free); n > 0 {
		i = tt.free[n-1]
		tt.free = tt.free[:n-1]
	} else {
		i = uint32(len(tt.slots))
		tt.slots = append(tt.slots, taskSlot{})
	}
	s := &tt.slots[i]
	s.t = t
	tt.live++
	return uint64(s.gen)<<32 | uint64(i+1)
}

// lookup returns the live task tok names, or nil (a stale or unknown
// token).
func (tt *taskTable) lookup(tok uint64) *task {
	i := uint64(uint32(tok)) - 1 // slot 0 is token low word 1; 0 wraps to 2^64-1
	if i >= uint64(len(tt.slots)) {
		return nil
	}
	s := &tt.slots[i]
	if s.gen != uint32(tok>>32) {
		return nil
	}
	return s.t
}

// remove empties the slot of tok if it holds t; its generation moves on.
func (tt *taskTable) remove(tok uint64, t *task) {
	if tt.lookup(tok) != t || t == nil {
		return
	}
	i := uint32(tok) - 1
	tt.slots[i] = taskSlot{gen: tt.slots[i].gen + 1}
	tt.free = append(tt.free, i)
	tt.live--
}
