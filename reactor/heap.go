package reactor

// timerHeap is a 4-ary min-heap of armed timers keyed on deadline. Entries
// carry a copy of the deadline so sifting never touches the timer slots, and
// pos[slot] is each slot's index in the heap (notQueued when the slot is not
// in it), so cancel and re-key are O(log n) without searching. A 4-ary heap
// is half as deep as a binary one and its four children share a cache line.
//
// Ties (equal deadlines) fire in unspecified order.
type timerHeap struct {
	h   []heapEntry
	pos []int32 // indexed by timer slot
}

type heapEntry struct {
	deadline uint64
	slot     uint32
}

const notQueued = -1

// track makes room in pos for slot (called when a slot is first handed out).
func (t *timerHeap) track(slot uint32) {
	for int(slot) >= len(t.pos) {
		t.pos = append(t.pos, notQueued)
	}
}

// min returns the earliest deadline.
func (t *timerHeap) min() (uint64, bool) {
	if len(t.h) == 0 {
		return 0, false
	}
	return t.h[0].deadline, true
}

// set inserts slot with deadline, or re-keys it if already queued.
func (t *timerHeap) set(slot uint32, deadline uint64) {
	if i := t.pos[slot]; i != notQueued {
		old := t.h[i].deadline
		t.h[i].deadline = deadline
		if deadline < old {
			t.up(int(i))
		} else {
			t.down(int(i))
		}
		return
	}
	t.h = append(t.h, heapEntry{deadline, slot})
	t.pos[slot] = int32(len(t.h) - 1)
	t.up(len(t.h) - 1)
}

// remove takes slot out of the heap if it is queued.
func (t *timerHeap) remove(slot uint32) {
	i := int(t.pos[slot])
	if i == notQueued {
		return
	}
	t.pos[slot] = notQueued
	last := len(t.h) - 1
	if i != last {
		t.h[i] = t.h[last]
		t.pos[t.h[i].slot] = int32(i)
	}
	t.h = t.h[:last]
	if i != last {
		t.down(i)
		t.up(i)
	}
}

// popExpired removes and returns the earliest slot if its deadline <= now.
func (t *timerHeap) popExpired(now uint64) (uint32, bool) {
	if len(t.h) == 0 || t.h[0].deadline > now {
		return 0, false
	}
	s := t.h[0].slot
	t.remove(s)
	return s, true
}

func (t *timerHeap) up(i int) {
	e := t.h[i]
	for i > 0 {
		p := (i - 1) / 4
		if t.h[p].deadline <= e.deadline {
			break
		}
		t.h[i] = t.h[p]
		t.pos[t.h[i].slot] = int32(i)
		i = p
	}
	t.h[i] = e
	t.pos[e.slot] = int32(i)
}

func (t *timerHeap) down(i int) {
	e := t.h[i]
	n := len(t.h)
	for {
		c := 4*i + 1
		if c >= n {
			break
		}
		m := c
		for k := c + 1; k < c+4 && k < n; k++ {
			if t.h[k].deadline < t.h[m].deadline {
				m = k
			}
		}
		if t.h[m].deadline >= e.deadline {
			break
		}
		t.h[i] = t.h[m]
		t.pos[t.h[i].slot] = int32(i)
		i = m
	}
	t.h[i] = e
	t.pos[e.slot] = int32(i)
}

// check verifies the heap property and the pos index (for tests).
func (t *timerHeap) check() error {
	for i, e := range t.h {
		if i > 0 && t.h[(i-1)/4].deadline > e.deadline {
			return errHeap("entry %d (deadline %d) is earlier than its parent %d (deadline %d)", i, e.deadline, (i-1)/4, t.h[(i-1)/4].deadline)
		}
		if t.pos[e.slot] != int32(i) {
			return errHeap("slot %d sits at %d but pos says %d", e.slot, i, t.pos[e.slot])
		}
	}
	queued := 0
	for _, p := range t.pos {
		if p != notQueued {
			queued++
		}
	}
	if queued != len(t.h) {
		return errHeap("pos marks %d slots queued, heap holds %d", queued, len(t.h))
	}
	return nil
}
