package ccall

import (
	"testing"

	"github.com/ebitengine/purego"
	"github.com/stretchr/testify/require"

	"github.com/awake-rt/awake/internal/ctest"
)

func lib(t testing.TB) map[string]uintptr {
	so := ctest.Build(t, ctest.Shared, []string{"testdata/ccall/ccall.c"}, "-O2")
	h, err := purego.Dlopen(so, purego.RTLD_NOW|purego.RTLD_LOCAL)
	require.NoError(t, err)
	syms := map[string]uintptr{}
	for _, n := range []string{"weigh6", "two", "nothing", "call_back", "sum_bytes", "record", "recorded"} {
		syms[n], err = purego.Dlsym(h, n)
		require.NoError(t, err)
	}
	return syms
}

func TestCallPassesSixArgumentsAndTwoResults(t *testing.T) {
	s := lib(t)
	r0, _ := Call(s["weigh6"], 1, 2, 3, 4, 5, 6)
	require.EqualValues(t, 654321, r0)
	a, b := Call(s["two"], 6, 7)
	require.EqualValues(t, 13, a)
	require.EqualValues(t, 42, b, "the second result register")
	require.EqualValues(t, 7, Call1(s["nothing"], 0))
	require.EqualValues(t, 21, Call2(s["weigh6"], 1, 2))
	require.EqualValues(t, 4321, Call4(s["weigh6"], 1, 2, 3, 4))
}

func BenchmarkCall(b *testing.B) {
	s := lib(b)
	b.Run("ccall", func(b *testing.B) {
		for b.Loop() {
			Call4(s["weigh6"], 1, 2, 3, 4)
		}
	})
	b.Run("purego.SyscallN", func(b *testing.B) {
		for b.Loop() {
			purego.SyscallN(s["weigh6"], 1, 2, 3, 4)
		}
	})
}

// A C function that calls back into Go, where the callback grows the
// goroutine's stack (moving it): the results must still arrive.
func TestCallbackThatMovesTheStack(t *testing.T) {
	s := lib(t)
	var depth func(n int) int
	depth = func(n int) int {
		var pad [256]byte
		if n == 0 {
			return int(pad[0])
		}
		return depth(n-1) + int(pad[n%256])
	}
	cb := purego.NewCallback(func(x uintptr) uintptr {
		depth(2000) // ~500 KiB of stack: forces a copy
		return x * 3
	})
	r0, _ := Call(s["call_back"], cb, 14)
	require.EqualValues(t, 42+1, r0)
}

func TestFramesNestAcrossCallbacks(t *testing.T) {
	s := lib(t)
	fr, err := NewFrames()
	require.NoError(t, err)
	defer fr.Close()
	cb := purego.NewCallback(func(x uintptr) uintptr {
		// A nested call from inside the callback takes the next frame.
		return fr.Call4(s["weigh6"], x, 1, 0, 0)
	})
	require.EqualValues(t, 5+10+1, fr.Call4(s["call_back"], cb, 5, 0, 0))
	require.Zero(t, fr.depth)
}

func BenchmarkFrames(b *testing.B) {
	s := lib(b)
	fr, err := NewFrames()
	require.NoError(b, err)
	for b.Loop() {
		fr.Call4(s["weigh6"], 1, 2, 3, 4)
	}
}
