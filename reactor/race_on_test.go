//go:build race

package reactor

// raceOn scales stress tests down: the race detector makes each atomic
// operation a call into its runtime.
const raceOn = true
