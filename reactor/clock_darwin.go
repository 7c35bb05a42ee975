package reactor

import "golang.org/x/sys/unix"

// Now returns CLOCK_MONOTONIC in nanoseconds, the clock of every deadline
// (what a plugin's clock_gettime(CLOCK_MONOTONIC) returns). The runtime's
// nanotime is a different clock on darwin (mach_absolute_time, which stops
// during sleep), so this goes through libc's clock_gettime.
func Now() uint64 {
	var ts unix.Timespec
	_ = unix.ClockGettime(unix.CLOCK_MONOTONIC, &ts)
	return uint64(ts.Nano())
}
