//go:build (linux || darwin) && (amd64 || arm64)

package executor

// pollBatchABI0 is the address of awake_poll_batch (pollbatch_*.s);
// timerOpenABI0 and timerCloseABI0 those of the runtime-free host timer
// functions (timerops_*.s).
var pollBatchABI0, timerOpenABI0, timerCloseABI0 uintptr

func init() { timerOpenFn, timerClose = timerOpenABI0, timerCloseABI0 }

// runBatch polls entries 0..n-1 in one crossing; see pollbatch_amd64.s.
func (w *worker) runBatch(n int) {
	w.fr.Call4(pollBatchABI0, w.pb.base, uintptr(n), repollMax, 0)
}
