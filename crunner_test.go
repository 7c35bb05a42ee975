package awake_test

import (
	"context"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/awake-rt/awake"
	"github.com/awake-rt/awake/internal/ctest"
)

// The same plugins, run by the C reference executor (examples/c/run.c, no
// Go at all) and by the Go runtime, print the same outputs.
func TestCRunnerAndGoHostAgree(t *testing.T) {
	buildMu.Lock()
	run := ctest.Build(t, ctest.Exe, []string{"examples/c/run.c", "csupport/awake_ref.c"},
		"-I", ctest.RepoRoot(t)+"/csupport", "-pthread", "-ldl")
	buildMu.Unlock()
	cases := []struct{ plugin, export, args string }{
		{"pending_request", "query", "SELECT 42|10"},
		{"await_go", "ask_go", "upper hello from both hosts"},
		{"echo", "echo_selftest", "4 5 100"},
		{"join", "join_timers_wakers", "0 0 0"},
	}
	rt, err := awake.New()
	require.NoError(t, err)
	defer rt.Close()
	rt.Offer("upper", func(_ context.Context, args []byte) ([]byte, error) {
		return []byte(strings.ToUpper(string(args))), nil
	})
	for _, c := range cases {
		so := example(t, c.plugin)
		cmd := ctest.Command(t, run, so, c.export, c.args)
		out, err := cmd.Output()
		require.NoError(t, err, "run %s %s %s", c.plugin, c.export, c.args)
		p, err := rt.Load(so)
		require.NoError(t, err)
		got, err := p.Call(ctx(t), c.export, []byte(c.args))
		require.NoError(t, err)
		want := strings.TrimSuffix(string(out), "\n")
		if c.plugin == "join" { // elapsed time differs; the shape must not
			want, got = want[:strings.Index(want, " in ")], got[:strings.Index(string(got), " in ")]
		}
		require.Equal(t, want, string(got), "%s/%s: C runner vs Go host", c.plugin, c.export)
	}
}
