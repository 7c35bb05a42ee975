//go:build (linux || darwin) && (amd64 || arm64)

package executor

// pollBatchABI0 is the address of awake_poll_batch (pollbatch_*.s).
var pollBatchABI0 uintptr

func (w *worker) runBatch(n int) {
	w.fr.Call4(pollBatchABI0, w.pb.base, uintptr(n), 0, 0)
}
