//go:build race && linux

package vtable

// Under the race detector each atomic load in the spin loop is a call into
// the race runtime, about 15x slower, so the child spins fewer times for the
// same wall-clock budget.
const spinBudget = 150_000_000
