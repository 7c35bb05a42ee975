package awake_test

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/awake-rt/awake"
	"github.com/awake-rt/awake/internal/ctest"
)

// The C plugin shown in README.md compiles with the project's strict flags
// and runs.
func TestReadmePlugin(t *testing.T) {
	readme, err := os.ReadFile(filepath.Join(ctest.RepoRoot(t), "README.md"))
	require.NoError(t, err)
	text := string(readme)
	i := strings.Index(text, "## A C plugin")
	require.NotEqual(t, -1, i, "README.md has no '## A C plugin' section")
	text = text[i:]
	start := strings.Index(text, "```c\n")
	require.NotEqual(t, -1, start)
	text = text[start+len("```c\n"):]
	src := text[:strings.Index(text, "```")]
	path := filepath.Join(t.TempDir(), "tiny.c")
	require.NoError(t, os.WriteFile(path, []byte(src), 0o644))
	so := ctest.Build(t, ctest.Shared, []string{path})

	rt, err := awake.New(awake.WithWorkers(1))
	require.NoError(t, err)
	defer rt.Close()
	p, err := rt.Load(so)
	require.NoError(t, err)
	require.Equal(t, "tiny", p.Name())
	_, err = p.Call(ctx(t), "sleep", []byte("5"))
	require.NoError(t, err)
	require.Zero(t, p.Library().Live())
}
