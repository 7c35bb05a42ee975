//go:build linux

package vtable

import (
	"fmt"
	"os"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/ebitengine/purego"
	"github.com/stretchr/testify/require"

	"github.com/awake-rt/awake/internal/ctest"
)

// The proof that a wake from a foreign thread never enters the Go runtime
// (BRIEF rule 1). A child test process runs with GOMAXPROCS=1 and
// GODEBUG=asyncpreemptoff=1; a C pthread does wakes and then bumps a done
// counter, while the only P spins on that counter in a loop with no function
// call (no preemption point). Code that needs a P (a purego callback) can
// never run, so the counter only moves if the wake path is runtime-free. The
// control run uses a purego callback as wake_by_ref and must NOT finish.

const (
	childEnv   = "AWAKE_NORUNTIME_CHILD"
	childWakes = 100_000
)

func TestWakeNeverEntersGoRuntime(t *testing.T) {
	if testing.Short() {
		t.Skip("spawns child processes")
	}
	for _, mode := range []string{"asm", "purego-callback"} {
		t.Run(mode, func(t *testing.T) {
			so := buildHammer(t)
			cmd := ctest.Command(t, os.Args[0], "-test.run=^TestNoRuntimeChild$", "-test.count=1", "-test.v")
			cmd.Env = append(os.Environ(), childEnv+"="+mode, "AWAKE_HAMMER_SO="+so,
				"GOMAXPROCS=1", "GODEBUG=asyncpreemptoff=1")
			out, err := cmd.CombinedOutput()
			require.NoError(t, err, "child failed:\n%s", out)
			line := resultLine(string(out))
			require.NotEmpty(t, line, "child printed no result:\n%s", out)
			finished := strings.Contains(line, "finished=true")
			if mode == "asm" {
				require.True(t, finished, "host wakes from a C thread stalled while Go held the only P: %s", line)
			} else {
				require.False(t, finished, "control: a purego callback ran without a P, so this test proves nothing: %s", line)
			}
			t.Log(line)
		})
	}
}

func resultLine(out string) string {
	for _, l := range strings.Split(out, "\n") {
		if strings.HasPrefix(strings.TrimSpace(l), "RESULT") {
			return strings.TrimSpace(l)
		}
	}
	return ""
}

// TestNoRuntimeChild is the child half; it does nothing unless run by
// TestWakeNeverEntersGoRuntime.
func TestNoRuntimeChild(t *testing.T) {
	mode := os.Getenv(childEnv)
	if mode == "" {
		t.Skip("child of TestWakeNeverEntersGoRuntime")
	}
	lib := openHammer(t, os.Getenv("AWAKE_HAMMER_SO"))
	q, _ := testQueue(t)
	w, err := q.NewWaker(1)
	require.NoError(t, err)
	fn := w.Vtable.WakeByRef
	if mode == "purego-callback" {
		fn = purego.NewCallback(func(data uintptr) { hostWakeByRef(data) })
	}
	h := lib.call(lib.new, 1)
	done := word64(lib.call(lib.done, h))
	require.Zero(t, lib.call(lib.startCalls, h, fn, w.Data, childWakes))
	i := 0
	for ; i < spinBudget; i++ { // no calls in this loop: no preemption point
		if atomic.LoadUint64(done) != 0 {
			break
		}
	}
	fmt.Printf("RESULT mode=%s finished=%v spins=%d wakes=%d\n", mode, i < spinBudget, i, childWakes)
	if i < spinBudget {
		lib.call(lib.join, h)
	}
}
