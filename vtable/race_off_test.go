//go:build !race && linux

package vtable

// spinBudget is how many loop iterations (~1 s) the no-runtime child spins
// before concluding the C thread cannot finish.
const spinBudget = 2_000_000_000
