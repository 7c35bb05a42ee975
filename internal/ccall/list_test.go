package ccall

import (
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

func TestListMakesEveryCallInOrderInOneRun(t *testing.T) {
	s := lib(t)
	fr, err := NewFrames()
	require.NoError(t, err)
	defer fr.Close()
	l, err := NewList()
	require.NoError(t, err)
	defer l.Close()

	for round := range 3 { // a list is reused after Reset
		l.Reset()
		var want []uintptr
		for i := 0; !l.Full(); i++ {
			b := strings.Repeat(string(rune('a'+i%26)), i+round)
			p, ok := l.Copy(b)
			require.True(t, ok)
			j := l.Len()
			require.Equal(t, j, l.AddOut(s["sum_bytes"], p, uintptr(len(b)), l.Scratch(j, 2), uintptr(i)))
			want = append(want, uintptr(len(b))*uintptr('a'+i%26))
		}
		require.Equal(t, ListMax, l.Len())
		l.Run(fr)
		for i, sum := range want {
			require.Equal(t, uintptr(i)*1000+uintptr(i+round), l.Result(i), "entry %d's result", i)
			require.Equal(t, sum, l.Word(i, 2), "entry %d's out-parameter", i)
			require.Zero(t, l.Word(i, 0), "scratch words nobody wrote stay zero")
		}
	}
	require.Zero(t, fr.depth)

	// Calls run in the order they were added.
	l.Reset()
	base := Call1(s["recorded"], ^uintptr(0))
	for i := range 10 {
		l.Add(s["record"], uintptr(100+i), 0, 0, 0)
	}
	l.Run(fr)
	for i := range 10 {
		require.EqualValues(t, 100+i, Call1(s["recorded"], base+uintptr(i)))
		require.Equal(t, base+uintptr(i)+1, l.Result(i))
	}
}

func TestListArenaRefusesWhatDoesNotFit(t *testing.T) {
	l, err := NewList()
	require.NoError(t, err)
	defer l.Close()
	p, ok := l.Copy("")
	require.True(t, ok)
	require.Zero(t, p, "empty arguments need no copy")
	_, ok = l.Copy(strings.Repeat("x", ListArena+1))
	require.False(t, ok, "larger than the whole arena")
	a, ok := l.Copy(strings.Repeat("x", ListArena-8))
	require.True(t, ok)
	require.Zero(t, a%8, "copies are word-aligned")
	_, ok = l.Copy("123456789")
	require.False(t, ok, "9 bytes after ListArena-8 used")
	b, ok := l.Copy("12345678")
	require.True(t, ok)
	require.Equal(t, a+ListArena-8, b)
	l.Reset()
	c, ok := l.Copy("y")
	require.True(t, ok)
	require.Equal(t, a, c, "Reset empties the arena")
}
