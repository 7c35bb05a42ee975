// Package vtable holds the host's waker vtable and the run queue it feeds.
//
// A host waker's data points to a cell: 64 bytes in an mmap'd slab, outside
// the Go heap. The four vtable functions (clone, wake, wake_by_ref, drop) are
// Go-assembly functions with the C calling convention (System V on amd64,
// AAPCS64 on arm64). They touch only the cell and its queue block with atomic
// instructions and, when the executor said it is about to sleep, issue one
// raw write(2) to the executor's eventfd. They never enter the Go runtime, so
// plugin threads the Go runtime never saw can call them at full speed, even
// while every P is busy or the GC runs.
//
// The package also calls foreign vtables (wakers that C or Rust code gives to
// host-implemented futures) through purego, recognising its own vtable and
// taking the direct path for it.
//
// This package must never call into Go from the assembly, free a cell from
// assembly, or unmap memory a waker may still point to.
package vtable
