package executor

import (
	"os"
	"regexp"
	"strconv"
	"testing"
	"unsafe"

	"github.com/stretchr/testify/require"

	"github.com/awake-rt/awake/abi"
	"github.com/awake-rt/awake/vtable"
)

// TestPollEntryLayout checks that the offsets and cell bits the batch
// poller's assembly hard-codes agree with pollEntry, abi.Context and the
// vtable package, for every architecture's file.
func TestPollEntryLayout(t *testing.T) {
	want := map[string]uintptr{
		"E_CELL":     unsafe.Offsetof(abi.Context{}.Waker) + unsafe.Offsetof(abi.Waker{}.Data),
		"E_POLL":     unsafe.Offsetof(pollEntry{}.poll),
		"E_SELF":     unsafe.Offsetof(pollEntry{}.self),
		"E_ERR":      unsafe.Offsetof(pollEntry{}.err),
		"E_STATUS":   unsafe.Offsetof(pollEntry{}.status),
		"E_REPOLLS":  unsafe.Offsetof(pollEntry{}.repolls),
		"E_RELEASED": unsafe.Offsetof(pollEntry{}.released),
		"E_OUT":      entryOut,
		"E_SIZE":     entrySize,
		"S_QUEUED":   vtable.StateQueued,
		"S_NOTIFIED": vtable.StateNotified,
		"S_REFSTEP":  vtable.StateRefStep,
	}
	require.EqualValues(t, entryErr, want["E_ERR"])
	require.EqualValues(t, entryOps, unsafe.Offsetof(pollEntry{}.ops))
	def := regexp.MustCompile(`(?m)^#define (\w+) (\d+)$`)
	for _, file := range []string{"pollbatch_amd64.s", "pollbatch_arm64.s"} {
		src, err := os.ReadFile(file)
		require.NoError(t, err)
		found := 0
		for _, m := range def.FindAllStringSubmatch(string(src), -1) {
			w, ok := want[m[1]]
			require.True(t, ok, "%s defines %s, which this test does not know", file, m[1])
			v, _ := strconv.ParseUint(m[2], 10, 64)
			require.EqualValues(t, w, v, "%s: %s", file, m[1])
			found++
		}
		require.GreaterOrEqual(t, found, 10, "%s: too few #defines found; did the format change?", file)
	}
}
