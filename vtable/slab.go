package vtable

import (
	"fmt"
	"unsafe"

	"golang.org/x/sys/unix"
)

// slabCells is how many cells one mmap'd slab holds (64 KiB).
const slabCells = 1024

// cellPool hands out cells of one queue. Cells are never unmapped: a plugin
// may hold a waker forever, and a wake on a reclaimed cell must still land in
// mapped memory. Reclaimed cells are reused by the same queue only.
//
// Only the queue's owner (its executor worker) uses the pool, so it takes
// no lock and no atomic operation (one get and one put per task).
type cellPool struct {
	free []uintptr
	live int // cells handed out and not yet reclaimed
	mem  [][]byte
}

func (p *cellPool) get() (uintptr, error) {
	if len(p.free) == 0 {
		mem, err := unix.Mmap(-1, 0, slabCells*cellSize, unix.PROT_READ|unix.PROT_WRITE, unix.MAP_PRIVATE|unix.MAP_ANON)
		if err != nil {
			return 0, fmt.Errorf("awake: mapping %d waker cells: %w", slabCells, err)
		}
		p.mem = append(p.mem, mem)
		base := uintptr(unsafe.Pointer(&mem[0]))
		for i := slabCells - 1; i >= 0; i-- {
			p.free = append(p.free, base+uintptr(i)*cellSize)
		}
	}
	c := p.free[len(p.free)-1]
	p.free = p.free[:len(p.free)-1]
	p.live++
	return c, nil
}

func (p *cellPool) put(c uintptr) {
	p.free = append(p.free, c)
	p.live--
}

// retire counts a cell as gone without making it reusable.
func (p *cellPool) retire() { p.live-- }

func (p *cellPool) liveCount() int { return p.live }

// unmap returns every slab to the OS; no cell may be outstanding.
func (p *cellPool) unmap() {
	for _, m := range p.mem {
		_ = unix.Munmap(m)
	}
	p.mem, p.free = nil, nil
}
