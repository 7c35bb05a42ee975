package awake_test

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/awake-rt/awake"
	"github.com/awake-rt/awake/internal/ctest"
)

// rustPlugin builds examples/rust with cargo (offline, std only) and returns
// the cdylib's path.
func rustPlugin(t *testing.T) string {
	t.Helper()
	if testing.Short() {
		t.Skip("-short: skipping the cargo build")
	}
	cargo, err := exec.LookPath("cargo")
	if err != nil {
		t.Fatalf("cargo is not installed but examples/rust must be tested: install Rust (rustup) or Debian's cargo; %v", err)
	}
	root := ctest.RepoRoot(t)
	target := filepath.Join(root, "build", "rust-target")
	cmd := exec.Command(cargo, "build", "--offline", "--release", "--manifest-path", filepath.Join(root, "examples/rust/Cargo.toml"))
	cmd.Env = append(os.Environ(), "CARGO_TARGET_DIR="+target)
	out, err := cmd.CombinedOutput()
	require.NoError(t, err, "cargo build failed:\n%s", out)
	return filepath.Join(target, "release", "libawake_example_rust.so")
}

func TestRustPluginOnTheGoRuntime(t *testing.T) {
	so := rustPlugin(t)
	rt, err := awake.New()
	require.NoError(t, err)
	defer rt.Close()
	p, err := rt.Load(so)
	require.NoError(t, err)

	out, err := p.Call(ctx(t), "sleep", []byte("20"))
	require.NoError(t, err)
	require.Equal(t, "slept 20 ms", string(out))

	out, err = p.Call(ctx(t), "join_sleeps", []byte("5 10 15"))
	require.NoError(t, err)
	require.True(t, strings.HasPrefix(string(out), "joined 3 sleeps in"), "%s", out)

	out, err = p.Call(ctx(t), "spawn_and_join", []byte("5 10"))
	require.NoError(t, err, "Rust awaiting host join futures with its own wakers")
	require.NotEmpty(t, out)

	rt.Offer("nap", func(_ context.Context, args []byte) ([]byte, error) { return []byte("napped " + string(args)), nil })
	out, err = p.Call(ctx(t), "await_host", []byte("nap 3"))
	require.NoError(t, err, "Rust awaiting a Go function")
	require.Contains(t, string(out), "napped 3")

	_, err = p.Call(ctx(t), "panic", []byte("on purpose"))
	require.ErrorContains(t, err, "on purpose", "a Rust panic comes back as an error, not an unwind")
	s := rt.Stats()
	require.Zero(t, s.LostWakers)
	require.Zero(t, p.Library().Live())
}
