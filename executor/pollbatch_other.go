//go:build !((linux || darwin) && (amd64 || arm64))

package executor

// runBatch polls the entries one C call each where there is no assembly
// (no claims, no re-polls).
func (w *worker) runBatch(n int) {
	for i := range n {
		e := w.pb.entry(i)
		e.repolls, e.released = 0, 0
		e.status = int32(w.fr.Call4(e.poll, e.self, w.pb.addr(i), w.pb.addr(i)+entryOut, w.pb.addr(i)+entryErr))
	}
}
