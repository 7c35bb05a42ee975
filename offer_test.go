package awake_test

import (
	"bytes"
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/awake-rt/awake"
)

func TestCFutureAwaitsGoFunction(t *testing.T) {
	rt, p := runtimeWith(t, "await_go")
	rt.Offer("upper", func(ctx context.Context, args []byte) ([]byte, error) {
		time.Sleep(5 * time.Millisecond) // really on a goroutine
		return bytes.ToUpper(args), nil
	})
	out, err := p.Call(ctx(t), "ask_go", []byte("upper hello awake"))
	require.NoError(t, err)
	require.Equal(t, "go said: HELLO AWAKE", string(out))

	_, err = p.Call(ctx(t), "ask_go", []byte("lower x"))
	require.ErrorContains(t, err, `host->call("lower")`)
	require.ErrorContains(t, err, `the host offers "upper"`)
}

func TestCancellingTheCFutureCancelsTheGoFunction(t *testing.T) {
	rt, p := runtimeWith(t, "await_go")
	started, stopped := make(chan struct{}), make(chan error, 1)
	rt.Offer("block", func(ctx context.Context, _ []byte) ([]byte, error) {
		close(started)
		<-ctx.Done()
		stopped <- ctx.Err()
		return nil, ctx.Err()
	})
	task, err := p.Spawn("ask_go", []byte("block"))
	require.NoError(t, err)
	<-started
	task.Cancel()
	select {
	case err := <-stopped:
		require.ErrorIs(t, err, context.Canceled)
	case <-time.After(10 * time.Second):
		t.Fatal("the Go function's context was not cancelled")
	}
	<-task.Done()
	_, err = task.Result()
	require.ErrorIs(t, err, awake.ErrCancelled)
	require.Zero(t, p.Library().Live())
}

// A panic in Go code a plugin awaits never unwinds through C frames: the C
// future gets an error it passes on.
func TestPanickingGoFunctionBecomesAnError(t *testing.T) {
	rt, p := runtimeWith(t, "await_go")
	rt.Offer("boom", func(context.Context, []byte) ([]byte, error) { panic("kaboom") })
	_, err := p.Call(ctx(t), "ask_go", []byte("boom"))
	require.ErrorContains(t, err, "await_go/ask_go")
	require.ErrorContains(t, err, "panicked: kaboom")
}
