package cmem

import (
	"strings"
	"testing"
	"unsafe"

	"github.com/stretchr/testify/require"

	"github.com/awake-rt/awake/abi"
)

func TestCStringIsBounded(t *testing.T) {
	b := []byte("hello\x00world")
	s, ok := CString(uintptr(unsafe.Pointer(&b[0])), 64)
	require.True(t, ok)
	require.Equal(t, "hello", s)
	s, ok = CString(uintptr(unsafe.Pointer(&b[0])), 3)
	require.False(t, ok, "no NUL within the bound")
	require.Equal(t, "hel", s)
}

func TestTakeErrorNeverReadsPastItsSize(t *testing.T) {
	// A size field claiming 4 bytes: message and drop must not be read
	// (they hold garbage here, which reading would follow). The object is
	// raw words, not an abi.ErrorObj: a Go pointer field holding 1 is a bad
	// pointer the runtime may find while it copies the stack.
	var raw [4]uint64 // size 4 | code 9 << 32, message 1, drop 1
	raw[0], raw[1], raw[2] = 4|9<<32, 1, 1
	require.EqualValues(t, 8, unsafe.Offsetof(abi.ErrorObj{}.Message), "raw mirrors awake_error")
	require.EqualValues(t, 16, unsafe.Offsetof(abi.ErrorObj{}.Drop), "raw mirrors awake_error")
	_, problem := TakeError(uintptr(unsafe.Pointer(&raw[0])), 16)
	require.True(t, strings.Contains(problem, "size 4 < 24; leaked"), problem)
	_, problem = TakeError(uintptr(unsafe.Pointer(&raw[0]))+1, 16)
	require.Contains(t, problem, "misaligned")
}

func TestTakeErrorWithoutDrop(t *testing.T) {
	msg := []byte("disk on fire\x00")
	obj := &abi.ErrorObj{Size: uint32(unsafe.Sizeof(abi.ErrorObj{})), Code: 42, Message: &msg[0]}
	e, problem := TakeError(uintptr(unsafe.Pointer(obj)), 64)
	require.Empty(t, problem)
	require.Equal(t, Error{Code: 42, Message: "disk on fire", HasMessage: true, Terminated: true}, e)
}
