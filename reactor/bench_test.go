package reactor

import (
	"fmt"
	"slices"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"github.com/awake-rt/awake/abi"
)

// BenchmarkTimerInsertCancel is OpenTimer+CloseTimer (heap insert and
// cancel, slot alloc and free) with `live` other timers in the heap.
func BenchmarkTimerInsertCancel(b *testing.B) {
	for _, live := range []int{0, 100_000} {
		b.Run(fmt.Sprintf("live=%d", live), func(b *testing.B) {
			r := newReactor(b)
			base := Now() + uint64(time.Hour)
			for i := range live {
				if _, err := r.OpenTimer(base + uint64(i)*1000); err != nil {
					b.Fatal(err)
				}
			}
			d := base + uint64(live)*500 // lands mid-heap
			for b.Loop() {
				tm, err := r.OpenTimer(d)
				if err != nil {
					b.Fatal(err)
				}
				r.CloseTimer(tm)
			}
		})
	}
}

// reportLateness reports the p50/p99/max of how late (ns) sleeps woke.
func reportLateness(b *testing.B, late []uint64) {
	slices.Sort(late)
	q := func(p float64) float64 { return float64(late[int(p*float64(len(late)-1))]) }
	b.ReportMetric(q(0.5), "p50-late-ns")
	b.ReportMetric(q(0.99), "p99-late-ns")
	b.ReportMetric(float64(late[len(late)-1]), "max-late-ns")
}

// BenchmarkSleep100us measures how late a 100 us reactor timer fires: open,
// Turn(-1) until it fired, lateness = Now() - deadline.
func BenchmarkSleep100us(b *testing.B) {
	r := newReactor(b)
	late := make([]uint64, 0, 4096)
	for b.Loop() {
		d := Now() + 100_000
		tm, err := r.OpenTimer(d)
		if err != nil {
			b.Fatal(err)
		}
		for tm.Event.State&abi.EventReady == 0 {
			if _, err := r.Turn(-1); err != nil {
				b.Fatal(err)
			}
		}
		late = append(late, Now()-d)
		r.CloseTimer(tm)
	}
	reportLateness(b, late)
}

// BenchmarkGoTimeSleep100us is the anchor: time.Sleep(100us) lateness.
func BenchmarkGoTimeSleep100us(b *testing.B) {
	late := make([]uint64, 0, 4096)
	for b.Loop() {
		d := Now() + 100_000
		time.Sleep(100 * time.Microsecond)
		late = append(late, Now()-d)
	}
	reportLateness(b, late)
}

// BenchmarkTurnIdle is the cost of a non-blocking Turn with nothing due.
func BenchmarkTurnIdle(b *testing.B) {
	r := newReactor(b)
	for b.Loop() {
		if _, err := r.Turn(0); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkSocketPingPong bounces one byte across a socketpair through the
// reactor on one thread: write, Turn until readable, read to EAGAIN, clear,
// and back (tokio's reactor: 15.5 us, Go's netpoller with a pipe: 13-14 us,
// both across two tasks).
func BenchmarkSocketPingPong(b *testing.B) {
	r := newReactor(b)
	fds, err := unix.Socketpair(unix.AF_UNIX, unix.SOCK_STREAM, 0)
	if err != nil {
		b.Fatal(err)
	}
	defer unix.Close(fds[0])
	defer unix.Close(fds[1])
	var ios [2]*abi.IO
	for i, fd := range fds {
		if err := unix.SetNonblock(fd, true); err != nil {
			b.Fatal(err)
		}
		if ios[i], err = r.OpenIO(int32(fd), abi.IORead); err != nil {
			b.Fatal(err)
		}
		defer r.CloseIO(ios[i])
	}
	var buf [1]byte
	hop := func(from, to int) {
		if _, err := unix.Write(fds[from], buf[:]); err != nil {
			b.Fatal(err)
		}
		for {
			ready, tick := PollEvent(&ios[to].Read, abi.Waker{})
			if ready {
				for {
					if _, err := unix.Read(fds[to], buf[:]); err != nil {
						break
					}
				}
				ClearEvent(&ios[to].Read, tick)
				return
			}
			if _, err := r.Turn(-1); err != nil {
				b.Fatal(err)
			}
		}
	}
	for b.Loop() {
		hop(0, 1)
		hop(1, 0)
	}
}
