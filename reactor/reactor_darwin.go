package reactor

import (
	"fmt"

	"golang.org/x/sys/unix"

	"github.com/awake-rt/awake/abi"
)

// darwin: kqueue, a non-blocking pipe as the wake fd, one EVFILT_TIMER for
// timers. Parallel to reactor_linux.go. Kevent's udata is a pointer, so fds
// map to io slots through a table instead.
const timerIdent = 1

type poller struct {
	kq, wakeR, wakeW int
	armed            uint64 // deadline the EVFILT_TIMER is armed for; 0 = none or fired
	fds              map[int32]uint32
	events           []unix.Kevent_t
}

func (p *poller) open() (err error) {
	p.kq, p.wakeR, p.wakeW = -1, -1, -1
	defer func() {
		if err != nil {
			p.close(false)
		}
	}()
	if p.kq, err = unix.Kqueue(); err != nil {
		return fmt.Errorf("awake reactor: kqueue: %w", err)
	}
	unix.CloseOnExec(p.kq)
	var fds [2]int
	if err = unix.Pipe(fds[:]); err != nil {
		return fmt.Errorf("awake reactor: pipe for the wake fd: %w", err)
	}
	p.wakeR, p.wakeW = fds[0], fds[1]
	for _, fd := range fds {
		unix.CloseOnExec(fd)
		if err = unix.SetNonblock(fd, true); err != nil {
			return fmt.Errorf("awake reactor: making wake pipe fd %d non-blocking: %w", fd, err)
		}
	}
	if err = p.change(p.wakeR, unix.EVFILT_READ, unix.EV_ADD, 0, 0); err != nil { // level-triggered
		return fmt.Errorf("awake reactor: kevent ADD wake pipe: %w", err)
	}
	p.fds = make(map[int32]uint32)
	p.events = make([]unix.Kevent_t, 256)
	return nil
}

// change applies one kevent change.
func (p *poller) change(ident, filter, flags int, fflags uint32, data int64) error {
	var k unix.Kevent_t
	unix.SetKevent(&k, ident, filter, flags)
	k.Fflags = fflags
	k.Data = data
	_, err := unix.Kevent(p.kq, []unix.Kevent_t{k}, nil, nil)
	return err
}

func (p *poller) wakeFd() int { return p.wakeW }

// arm sets a one-shot EVFILT_TIMER for deadline (relative to now, in ns; 0
// disarms), only when that changes what it is armed for.
func (p *poller) arm(deadline, now uint64) error {
	if deadline == p.armed {
		return nil
	}
	p.armed = deadline
	if deadline == 0 {
		_ = p.change(timerIdent, unix.EVFILT_TIMER, unix.EV_DELETE, 0, 0) // ENOENT: fired
		return nil
	}
	delay := int64(0)
	if deadline > now {
		delay = int64(deadline - now)
	}
	if err := p.change(timerIdent, unix.EVFILT_TIMER, unix.EV_ADD|unix.EV_ONESHOT, unix.NOTE_NSECONDS, delay); err != nil {
		p.armed = 0
		return fmt.Errorf("awake reactor: kevent EVFILT_TIMER(%d ns): %w", delay, err)
	}
	return nil
}

func (p *poller) addIO(fd int32, interest uint32, slot uint32) error {
	if _, dup := p.fds[fd]; dup {
		return unix.EEXIST
	}
	if interest&abi.IORead != 0 {
		if err := p.change(int(fd), unix.EVFILT_READ, unix.EV_ADD|unix.EV_CLEAR, 0, 0); err != nil {
			return err
		}
	}
	if interest&abi.IOWrite != 0 {
		if err := p.change(int(fd), unix.EVFILT_WRITE, unix.EV_ADD|unix.EV_CLEAR, 0, 0); err != nil {
			p.delIO(fd, interest&abi.IORead, slot)
			return err
		}
	}
	p.fds[fd] = slot
	return nil
}

// delIO deregisters fd; errors mean it was closed first (already removed).
func (p *poller) delIO(fd int32, interest uint32, _ uint32) {
	if interest&abi.IORead != 0 {
		_ = p.change(int(fd), unix.EVFILT_READ, unix.EV_DELETE, 0, 0)
	}
	if interest&abi.IOWrite != 0 {
		_ = p.change(int(fd), unix.EVFILT_WRITE, unix.EV_DELETE, 0, 0)
	}
	delete(p.fds, fd)
}

// wait runs one kevent (block: until something is ready; else not at all)
// and dispatches what it returns.
func (p *poller) wait(r *Reactor, block bool) error {
	var ts *unix.Timespec
	if !block {
		ts = &unix.Timespec{}
	}
	n, err := unix.Kevent(p.kq, nil, p.events, ts)
	for err == unix.EINTR {
		n, err = unix.Kevent(p.kq, nil, p.events, ts)
	}
	if err != nil {
		return fmt.Errorf("awake reactor: kevent wait: %w", err)
	}
	if r.onWake != nil {
		r.onWake()
	}
	var buf [64]byte
	for _, ev := range p.events[:n] {
		switch {
		case ev.Filter == unix.EVFILT_TIMER:
			p.armed = 0 // one-shot: fired
		case ev.Filter == unix.EVFILT_READ && int(ev.Ident) == p.wakeR:
			for {
				if _, err := unix.Read(p.wakeR, buf[:]); err != nil {
					break // EAGAIN: drained
				}
			}
		default:
			if slot, ok := p.fds[int32(ev.Ident)]; ok {
				r.ioReady(slot, ev.Filter == unix.EVFILT_READ, ev.Filter == unix.EVFILT_WRITE)
			}
		}
	}
	return nil
}

func (p *poller) close(keepWake bool) error {
	var first error
	for _, fd := range []int{p.kq, p.wakeR, p.wakeW} {
		if fd < 0 || (keepWake && fd != p.kq) {
			continue
		}
		if err := unix.Close(fd); err != nil && first == nil {
			first = fmt.Errorf("awake reactor: closing fd %d: %w", fd, err)
		}
	}
	return first
}
