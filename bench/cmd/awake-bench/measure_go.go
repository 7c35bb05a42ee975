//go:build linux

package main

import (
	"fmt"
	"net"
	"os"
	"sort"
	"sync"
	"sync/atomic"
	"time"

	"golang.org/x/sys/unix"
)

// spawnWarmup is how many untimed batches every side of the spawn row runs
// first (the tokio anchor's SPAWN_WARMUP too): on this kind of VM the first
// few dozen batches of a process run two to three times slower while its
// heap grows into fresh pages (first touches are page faults), which is
// not the steady state the row compares.
const spawnWarmup = 100

// goSpawn: goroutine + WaitGroup, in batches like awakeSpawn.
func goSpawn(f measureFlags) error {
	var wg sync.WaitGroup
	var sink atomic.Uint64
	round := func() {
		wg.Add(f.batch)
		for range f.batch {
			go func() {
				sink.Add(1)
				wg.Done()
			}()
		}
		wg.Wait()
	}
	for range spawnWarmup {
		round()
	}
	rounds := max(f.n/f.batch, 1)
	t0 := time.Now()
	for range rounds {
		round()
	}
	el := time.Since(t0)
	emit("spawn", "go", float64(el.Nanoseconds())/float64(rounds*f.batch), "ns/task")
	return nil
}

// goPingPong: two goroutines ping-pong one byte over a socketpair through
// Go's netpoller (net.FileConn makes the fds non-blocking and registers
// them).
func goPingPong(f measureFlags) error {
	fds, err := unix.Socketpair(unix.AF_UNIX, unix.SOCK_STREAM|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		return fmt.Errorf("socketpair: %w", err)
	}
	conn := func(fd int, name string) (net.Conn, error) {
		file := os.NewFile(uintptr(fd), name)
		defer file.Close()
		return net.FileConn(file)
	}
	a, err := conn(fds[0], "ping")
	if err != nil {
		return err
	}
	defer a.Close()
	b, err := conn(fds[1], "pong")
	if err != nil {
		return err
	}
	defer b.Close()
	run := func(n int) (time.Duration, error) {
		errc := make(chan error, 1)
		// The one byte in flight is read into an 8-byte buffer, as the C
		// plugin and the tokio and libuv anchors read it (a short read lets
		// them skip the EAGAIN read; Go's netpoller reads until EAGAIN).
		readOne := func(c net.Conn, buf []byte) error {
			k, err := c.Read(buf)
			if err == nil && k != 1 {
				err = fmt.Errorf("pingpong: read %d bytes, want the 1 in flight", k)
			}
			return err
		}
		go func() {
			buf := make([]byte, 8)
			for range n {
				if err := readOne(b, buf); err != nil {
					errc <- err
					return
				}
				if _, err := b.Write(buf[:1]); err != nil {
					errc <- err
					return
				}
			}
			errc <- nil
		}()
		buf := []byte{7, 0, 0, 0, 0, 0, 0, 0}
		t0 := time.Now()
		for range n {
			if _, err := a.Write(buf[:1]); err != nil {
				return 0, err
			}
			if err := readOne(a, buf); err != nil {
				return 0, err
			}
		}
		el := time.Since(t0)
		return el, <-errc
	}
	if _, err := run(1000); err != nil { // warm-up
		return err
	}
	el, err := run(f.n)
	if err != nil {
		return err
	}
	emit("pingpong", "go", float64(el.Nanoseconds())/float64(f.n), "ns/roundtrip")
	return nil
}

// goTimers: n time.AfterFunc timers due 1..10 ms, created in the same
// scrambled order; time until the last one ran.
func goTimers(f measureFlags) error {
	var fired atomic.Int64
	done := make(chan struct{})
	n := f.n
	t0 := time.Now()
	for i := range n {
		j := timerPerm(i, n)
		time.AfterFunc(timerOffset(j, n)-time.Since(t0), func() {
			if fired.Add(1) == int64(n) {
				close(done)
			}
		})
	}
	<-done
	el := time.Since(t0)
	emit("timers", "go", float64(el.Nanoseconds())/1e6, "ms")
	return nil
}

// goChurn: time.AfterFunc one second ahead, then Stop, n times.
func goChurn(f measureFlags) error {
	fn := func() {}
	churn := func(n int) {
		for range n {
			t := time.AfterFunc(time.Second, fn)
			t.Stop()
		}
	}
	churn(1000) // warm-up
	t0 := time.Now()
	churn(f.n)
	el := time.Since(t0)
	emit("churn", "go", float64(el.Nanoseconds())/float64(f.n), "ns/op")
	return nil
}

// goSleepLate: time.Sleep(us) n times; median of (wake-up - deadline).
func goSleepLate(f measureFlags) error {
	d := time.Duration(f.us) * time.Microsecond
	late := make([]float64, f.n)
	for i := range late {
		dl := time.Now().Add(d)
		time.Sleep(d)
		late[i] = float64(time.Since(dl).Nanoseconds())
	}
	sort.Float64s(late)
	emit("sleeplate", "go", late[len(late)/2]/1e3, "us")
	return nil
}

// goMem: RSS growth for n goroutines parked on a channel receive.
func goMem(f measureFlags) error {
	before, err := settledRSS()
	if err != nil {
		return err
	}
	block := make(chan struct{})
	var started sync.WaitGroup
	started.Add(f.n)
	for range f.n {
		go func() {
			started.Done()
			<-block
		}()
	}
	started.Wait()
	after, err := settledRSS()
	if err != nil {
		return err
	}
	emit("mem", "go", float64(int64(after)-int64(before))/float64(f.n), "B/task")
	close(block)
	return nil
}
