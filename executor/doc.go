// Package executor runs futures: C futures made by plugins and futures
// written in Go, on worker goroutines locked to OS threads, each worker with
// its own run queue (package vtable) and reactor (package reactor).
//
// A task lives on one worker for its whole life, so a future that is not
// thread-safe is always polled on the same OS thread, and a task is never
// polled concurrently. Wakes reach the worker through the task's host waker
// cell; they coalesce, and a wake after the task finished is ignored.
//
// Calls into C are batched, since a crossing costs more than a plugin's
// make, poll or drop: a worker makes the futures of new SpawnMake tasks,
// polls runnable C futures and drops finished ones up to 64 per crossing
// (make.go, foreign.go).
//
// This package must never poll a task after it finished, drop a future twice,
// block a worker on anything but its reactor, or let a panic in a Go future
// escape into C frames.
package executor
