package executor

import (
	"time"

	"github.com/awake-rt/awake/abi"
	"github.com/awake-rt/awake/reactor"
)

// Sleep returns a Go future that completes (with nil) once d has passed,
// on the reactor timer of the worker that polls it: the same sub-millisecond
// timers C plugins get through the host API.
func Sleep(d time.Duration) Future { return &sleepFuture{d: d} }

type sleepFuture struct {
	d     time.Duration
	timer *abi.Timer
	r     *reactor.Reactor
}

func (s *sleepFuture) Poll(cx *Context) (bool, any, error) {
	if s.timer == nil {
		t, err := cx.w.r.OpenTimer(reactor.Now() + uint64(max(s.d, 0)))
		if err != nil {
			return true, nil, err
		}
		s.timer, s.r = t, cx.w.r
	}
	if ready, _ := reactor.PollEvent(&s.timer.Event, cx.t.waker()); ready {
		s.Drop()
		return true, nil, nil
	}
	return false, nil, nil
}

// Drop closes the timer.
func (s *sleepFuture) Drop() {
	if s.timer != nil {
		s.r.CloseTimer(s.timer)
		s.timer = nil
	}
}
