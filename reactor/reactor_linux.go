package reactor

import (
	"fmt"

	"golang.org/x/sys/unix"

	"github.com/awake-rt/awake/abi"
)

// Linux: epoll, an eventfd as the wake fd, a timerfd for timers. Epoll data
// (the event's Fd field) is a token, never a pointer: an io slot index, or
// one of the two tokens below.
const (
	tokWake  = -1
	tokTimer = -2
)

type poller struct {
	ep, wake, tfd int
	armed         uint64 // absolute deadline the timerfd is armed to; 0 = disarmed or fired
	wakes         uint64 // wake fd edges seen
	events        []unix.EpollEvent
}

func (p *poller) open() (err error) {
	p.ep, p.wake, p.tfd = -1, -1, -1
	defer func() {
		if err != nil {
			p.close(false)
		}
	}()
	if p.ep, err = unix.EpollCreate1(unix.EPOLL_CLOEXEC); err != nil {
		return fmt.Errorf("awake reactor: epoll_create1: %w", err)
	}
	if p.wake, err = unix.Eventfd(0, unix.EFD_NONBLOCK|unix.EFD_CLOEXEC); err != nil {
		return fmt.Errorf("awake reactor: eventfd for the wake fd: %w", err)
	}
	if p.tfd, err = unix.TimerfdCreate(unix.CLOCK_MONOTONIC, unix.TFD_NONBLOCK|unix.TFD_CLOEXEC); err != nil {
		return fmt.Errorf("awake reactor: timerfd_create: %w", err)
	}
	// The wake fd is edge-triggered and never read on the hot path: every
	// write makes a new edge, so a wake costs the waker one write and the
	// worker nothing beyond its epoll_wait (tokio does the same). The
	// counter is reset now and then (see wait). The timerfd is
	// level-triggered and read once per expiry (its re-arm needs that).
	for _, f := range [][3]int{{p.wake, tokWake, unix.EPOLLET}, {p.tfd, tokTimer, 0}} {
		ev := unix.EpollEvent{Events: unix.EPOLLIN | uint32(f[2]), Fd: int32(f[1])}
		if err = unix.EpollCtl(p.ep, unix.EPOLL_CTL_ADD, f[0], &ev); err != nil {
			return fmt.Errorf("awake reactor: epoll_ctl ADD fd %d: %w", f[0], err)
		}
	}
	p.events = make([]unix.EpollEvent, 256)
	return nil
}

func (p *poller) wakeFd() int { return p.wake }

// arm points the timerfd at deadline (absolute CLOCK_MONOTONIC ns; 0
// disarms), only when that changes what it is armed to.
func (p *poller) arm(deadline, _ uint64) error {
	if deadline == p.armed {
		return nil
	}
	its := unix.ItimerSpec{Value: unix.NsecToTimespec(int64(deadline))}
	if err := unix.TimerfdSettime(p.tfd, unix.TFD_TIMER_ABSTIME, &its, nil); err != nil {
		return fmt.Errorf("awake reactor: timerfd_settime(%d ns): %w", deadline, err)
	}
	p.armed = deadline
	return nil
}

func (p *poller) addIO(fd int32, interest uint32, slot uint32) error {
	ev := unix.EpollEvent{Events: unix.EPOLLET | unix.EPOLLRDHUP, Fd: int32(slot)}
	if interest&abi.IORead != 0 {
		ev.Events |= unix.EPOLLIN
	}
	if interest&abi.IOWrite != 0 {
		ev.Events |= unix.EPOLLOUT
	}
	return unix.EpollCtl(p.ep, unix.EPOLL_CTL_ADD, int(fd), &ev)
}

// delIO deregisters fd. Errors are ignored: EBADF/ENOENT mean the fd was
// closed first, which removed the registration already.
func (p *poller) delIO(fd int32, _ uint32, _ uint32) {
	_ = unix.EpollCtl(p.ep, unix.EPOLL_CTL_DEL, int(fd), nil)
}

const (
	readBits  = unix.EPOLLIN | unix.EPOLLRDHUP | unix.EPOLLHUP | unix.EPOLLERR
	writeBits = unix.EPOLLOUT | unix.EPOLLHUP | unix.EPOLLERR
)

// wait runs one epoll_wait (block: until something is ready; else not at
// all) and dispatches what it returns.
func (p *poller) wait(r *Reactor, block bool) error {
	ms := 0
	if block {
		ms = -1
	}
	n, err := unix.EpollWait(p.ep, p.events, ms)
	for err == unix.EINTR {
		n, err = unix.EpollWait(p.ep, p.events, ms)
	}
	if err != nil {
		return fmt.Errorf("awake reactor: epoll_wait: %w", err)
	}
	if r.onWake != nil {
		r.onWake()
	}
	var buf [8]byte
	for _, ev := range p.events[:n] {
		switch ev.Fd {
		case tokWake:
			// Reset the eventfd counter once in a while: it saturates only
			// after 2^64-2 writes, but a read is cheap every 65536 wakes.
			if p.wakes++; p.wakes%65536 == 0 {
				_, _ = unix.Read(p.wake, buf[:])
			}
		case tokTimer:
			if _, err := unix.Read(p.tfd, buf[:]); err == nil {
				p.armed = 0 // expired: a one-shot timerfd is now disarmed
			}
		default:
			r.ioReady(uint32(ev.Fd), ev.Events&readBits != 0, ev.Events&writeBits != 0)
		}
	}
	return nil
}

func (p *poller) close(keepWake bool) error {
	var first error
	for _, fd := range []int{p.ep, p.tfd, p.wake} {
		if fd < 0 || (keepWake && fd == p.wake) {
			continue
		}
		if err := unix.Close(fd); err != nil && first == nil {
			first = fmt.Errorf("awake reactor: closing fd %d: %w", fd, err)
		}
	}
	return first
}
