package awake_test

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/awake-rt/awake"
	"github.com/awake-rt/awake/cbindings"
)

func TestLoadRefusesUntrustedPluginUnlessTheRuntimeOptsOut(t *testing.T) {
	b, err := os.ReadFile(example(t, "timer"))
	require.NoError(t, err)
	p := filepath.Join(t.TempDir(), "timer.so")
	require.NoError(t, os.WriteFile(p, b, 0o600))
	require.NoError(t, os.Chmod(p, 0o666))

	rt, err := awake.New(awake.WithWorkers(1))
	require.NoError(t, err)
	defer rt.Close()
	_, err = rt.Load(p)
	require.ErrorIs(t, err, cbindings.ErrInsecure)
	require.ErrorContains(t, err, p+" is world-writable")
	require.ErrorContains(t, err, "awake.WithInsecurePlugins()")

	lax, err := awake.New(awake.WithWorkers(1), awake.WithInsecurePlugins())
	require.NoError(t, err)
	defer lax.Close()
	pl, err := lax.Load(p)
	require.NoError(t, err)
	out, err := pl.Call(ctx(t), "sleep", []byte("1ms"))
	require.NoError(t, err)
	require.Contains(t, string(out), "slept")
}
