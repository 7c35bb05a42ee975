package executor

import (
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// A spawn wakes its worker only when the worker announced a sleep; a
// running worker checks the inbox before it sleeps. Spawning onto an idle
// worker again and again (it goes back to sleep between spawns), from
// several goroutines at once, must never leave a task unpolled: a lost
// wake would hang an Await until its timeout.
func TestSpawnsOntoASleepingWorkerAreNeverLost(t *testing.T) {
	e := newExec(t, 1)
	var wg sync.WaitGroup
	for g := range 3 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range 700 {
				h, err := e.Spawn(FutureFunc(func(*Context) (bool, any, error) { return true, i, nil }))
				if err != nil {
					t.Error(err)
					return
				}
				v, err := await(t, h)
				if err != nil || v != i {
					t.Errorf("goroutine %d spawn %d: %v %v", g, i, v, err)
					return
				}
				if i%100 == 0 {
					time.Sleep(time.Millisecond) // let the worker fall asleep
				}
			}
		}()
	}
	wg.Wait()
	require.EqualValues(t, 3*700, e.Stats().Completed)
}

// The window itself: a spawn posted after the worker's last look at its
// inbox and before it announces its sleep finds the worker running, so it
// does not wake it; the worker must see the spawn after the announcement
// and not sleep.
func TestSpawnJustBeforeTheWorkerSleepsIsSeen(t *testing.T) {
	var once sync.Once
	posted := make(chan *JoinHandle, 1) // to the test
	done := make(chan struct{})         // to the hook: the post is complete
	// Set before the worker starts and cleared after it stopped (cleanups
	// run last in, first out): the hook is a plain variable.
	beforeSleep = func(w *worker) {
		once.Do(func() {
			go func() {
				h, err := w.e.Spawn(FutureFunc(func(*Context) (bool, any, error) { return true, "seen", nil }))
				if err != nil {
					t.Error(err)
				}
				posted <- h
				close(done)
			}()
			<-done // the post is complete before the worker goes on
		})
	}
	t.Cleanup(func() { beforeSleep = nil })
	newExec(t, 1) // idle at once: its first sleep runs the hook
	v, err := await(t, <-posted)
	require.NoError(t, err, "the worker slept through a spawn posted before its sleep")
	require.Equal(t, "seen", v)
}
