//go:build race

package awake_test

// raceOn is true when the tests run under the race detector, which slows
// the Go side several times: the stress tests use smaller sizes.
const raceOn = true
