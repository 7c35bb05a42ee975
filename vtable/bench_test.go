//go:build linux

package vtable

import (
	"runtime"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/ebitengine/purego"
)

// BenchmarkForeignWake measures one wake_by_ref called from C pthreads the Go
// runtime never saw, timed on the waking thread, while a Go goroutine drains
// the queue: the host's assembly vtable beside a purego callback doing the
// same bookkeeping (the Go twin of the assembly). The "gc-busy" variants keep
// every P busy and run runtime.GC in a loop meanwhile, which is where a
// callback stalls for milliseconds waiting for a P.
//
//	go test -run '^$' -bench ForeignWake ./vtable/
func BenchmarkForeignWake(b *testing.B) {
	so := buildHammer(b)
	cb := purego.NewCallback(func(data uintptr) { hostWakeByRef(data) })
	for _, load := range []string{"idle", "gc-busy"} {
		for _, impl := range []string{"asm", "purego-callback"} {
			b.Run(impl+"/"+load, func(b *testing.B) {
				benchForeignWake(b, so, impl == "asm", load == "gc-busy", cb)
			})
		}
	}
}

func benchForeignWake(b *testing.B, so string, asm, busy bool, cb uintptr) {
	const threads = 4
	lib := openHammer(b, so)
	q, efd := testQueue(b)
	w, err := q.NewWaker(1)
	if err != nil {
		b.Fatal(err)
	}
	fn := w.Vtable.WakeByRef
	if !asm {
		fn = cb
	}
	n := b.N
	if !asm && busy && n > 2000 {
		n = 2000 // each call may stall for milliseconds; keep the run short
	}
	stop := make(chan struct{})
	var wg sync.WaitGroup
	if busy {
		for range runtime.GOMAXPROCS(0) {
			wg.Add(1)
			go func() { // a busy P that still reaches preemption points
				defer wg.Done()
				x := 0
				for {
					select {
					case <-stop:
						return
					default:
					}
					for i := range 100_000 {
						x += i
					}
					_ = x
				}
			}()
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				select {
				case <-stop:
					return
				default:
					runtime.GC()
				}
			}
		}()
	}
	var drained atomic.Bool
	wg.Add(1)
	go func() { // the executor: drain, sleep on the eventfd when idle
		defer wg.Done()
		for !drained.Load() {
			if drain(q, func(uint64) {}) == 0 {
				sleepOn(q, efd)
			}
		}
	}()

	h := lib.call(lib.new, threads)
	defer lib.call(lib.free, h)
	per := uint64(n/threads + 1)
	b.ResetTimer()
	if lib.call(lib.startCalls, h, fn, w.Data, uintptr(per)) != 0 {
		b.Fatal("pthread_create failed")
	}
	lib.call(lib.join, h)
	b.StopTimer()
	close(stop)
	drained.Store(true)
	WakeByRef(w) // rouse the drainer so it sees drained
	wg.Wait()

	ops := float64(per * threads)
	b.ReportMetric(float64(lib.call(lib.totalNs, h))/ops, "ns/wake")
	b.ReportMetric(float64(lib.call(lib.quantile, h, 500_000)), "p50-ns")
	b.ReportMetric(float64(lib.call(lib.quantile, h, 999_000)), "p99.9-ns")
	b.ReportMetric(float64(lib.call(lib.maxNs, h)), "max-ns")
	Drop(w)
	drain(q, func(uint64) {})
}
