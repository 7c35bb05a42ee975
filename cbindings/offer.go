package cbindings

import (
	"context"
	"fmt"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"unsafe"

	"github.com/awake-rt/awake/abi"
	"github.com/awake-rt/awake/executor"
)

// GoFunc is a Go function offered to plugins: it runs on its own goroutine
// when a plugin awaits it, and its context is cancelled when the plugin
// cancels or drops the future.
type GoFunc func(ctx context.Context, args []byte) ([]byte, error)

var (
	offersMu sync.RWMutex
	offers   = map[*executor.Executor]map[string]GoFunc{}
)

// Offer makes fn available to every plugin future running on e as
// host->call(cx, name, ...). Offering a name again replaces the function.
func Offer(e *executor.Executor, name string, fn GoFunc) {
	offersMu.Lock()
	defer offersMu.Unlock()
	if offers[e] == nil {
		offers[e] = map[string]GoFunc{}
	}
	offers[e][name] = fn
}

// Withdraw removes every function offered on e (call it when e closes).
func Withdraw(e *executor.Executor) {
	offersMu.Lock()
	delete(offers, e)
	offersMu.Unlock()
}

func offered(e *executor.Executor, name string) (GoFunc, string) {
	offersMu.RLock()
	defer offersMu.RUnlock()
	if fn := offers[e][name]; fn != nil {
		return fn, ""
	}
	names := make([]string, 0, len(offers[e]))
	for n := range offers[e] {
		names = append(names, fmt.Sprintf("%q", n))
	}
	sort.Strings(names)
	if len(names) == 0 {
		return nil, "the host offers no functions (register them with Runtime.Offer)"
	}
	return nil, "the host offers " + strings.Join(names, ", ")
}

func (runtimeHost) Call(cx uintptr, name string, args []byte, out, errOut uintptr) int32 {
	p, ok := poller(cx, "call")
	if !ok {
		return abi.EInvalid
	}
	fn, have := offered(p.Executor(), name)
	if fn == nil {
		msg := fmt.Sprintf("host->call(%q) from task %d (%s): no such function; %s", name, p.TaskID(), p.TaskName(), have)
		p.Log(abi.LogWarn, "awake: "+msg)
		if errOut != 0 {
			*(*uintptr)(cptr(errOut)) = newErrorObject(abi.EInvalid, msg)
		}
		return abi.EInvalid
	}
	*(*abi.Future)(cptr(out)) = startGoFunc(fn, args)
	return abi.OK
}

// goFuncFuture runs a GoFunc on a goroutine; polling it from C parks the
// poller's waker, which the goroutine wakes when it finishes (from its own
// thread: host wakers take the runtime-free path, foreign wakers are called
// through their vtable).
type goFuncFuture struct {
	stop   context.CancelFunc
	done   atomic.Bool
	value  []byte
	err    error
	waiter wakerSlot
	vt     *abi.FutureVtable
	over   bool
}

func startGoFunc(fn GoFunc, args []byte) abi.Future {
	ctx, cancel := context.WithCancel(context.Background())
	g := &goFuncFuture{stop: cancel}
	f := registerHostFuture(g, uint32(unsafe.Sizeof(abi.Bytes{})), uint32(unsafe.Alignof(abi.Bytes{})), abi.FutureSend|abi.FutureOutputBytes)
	g.vt = f.Vtable
	go func() {
		v, err := runGoFunc(ctx, fn, args)
		g.value, g.err = v, err
		g.done.Store(true) // publishes value and err
		g.waiter.wake()
	}()
	return f
}

func runGoFunc(ctx context.Context, fn GoFunc, args []byte) (v []byte, err error) {
	defer func() {
		if p := recover(); p != nil {
			err = fmt.Errorf("the offered Go function panicked: %v", p)
		}
	}()
	return fn(ctx, args)
}

func (g *goFuncFuture) poll(w abi.Waker, out, errOut uintptr) int32 {
	if g.over {
		return abi.Misuse
	}
	if !g.done.Load() {
		g.waiter.park(w)
		if !g.done.Load() { // finished between the check and the park?
			return abi.Pending
		}
	}
	g.over = true
	g.waiter.drop()
	return writeResult(g.value, g.err, g.vt, out, errOut)
}

func (g *goFuncFuture) drop() {
	g.stop()
	g.waiter.drop()
}

func (g *goFuncFuture) cancel() int32 {
	g.stop()
	return abi.OK
}
