// Package reactor is the OS reactor of one executor worker: epoll (Linux) or
// kqueue (darwin), host timers on a min-heap driven by one timerfd (or
// EVFILT_TIMER), and the wake fd that other threads write to rouse a worker
// sleeping in Turn.
//
// Timers (abi.Timer) and fd registrations (abi.IO) live in mmap'd slabs
// outside the Go heap, so C futures can hold pointers to them and check or
// wait on their abi.Event with the inline awake_event_poll, never calling
// into Go. The host side of that protocol (fire, close) is in events.go;
// PollEvent and ClearEvent are its Go-side poller for Go futures.
//
// A Reactor belongs to one worker: every method except WakeFd, PollEvent and
// ClearEvent must be called from that worker's goroutine. It must never fire
// an event inline from OpenTimer/ResetTimer/OpenIO (only Turn fires), fire a
// timer before its deadline, block anywhere but in Turn, or unmap a slab (a
// plugin may keep a pointer after closing).
package reactor
