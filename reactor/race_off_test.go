//go:build !race

package reactor

const raceOn = false
