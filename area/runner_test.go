package area

import (
	"context"
	"errors"
	"sync"
	"sync/atomic"
	"testing"
	"testing/synctest"
	"time"
)

// Callers that arrive while a refresh runs share it: one refresh, one
// result for all; the next caller after it starts a new one.
func TestRunnerSharesOneRefresh(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		var calls atomic.Int32
		release := make(chan struct{})
		failed := errors.New("ISC failed")
		r := NewRunner(func(context.Context) error {
			calls.Add(1)
			<-release
			return failed
		})
		errs := make(chan error, 5)
		for range 5 {
			go func() { errs <- r.Refresh(t.Context()) }()
		}
		synctest.Wait() // all five are in: one refreshing, four waiting for it
		if n := calls.Load(); n != 1 {
			t.Fatalf("%d refreshes for 5 concurrent callers, want 1", n)
		}
		close(release)
		for range 5 {
			if err := <-errs; !errors.Is(err, failed) {
				t.Fatalf("a caller got %v, want the shared refresh's error", err)
			}
		}
		if err := r.Refresh(t.Context()); !errors.Is(err, failed) || calls.Load() != 2 {
			t.Fatalf("a later caller: %v after %d refreshes, want a refresh of its own", err, calls.Load())
		}
	})
}

// A caller waiting for a refresh leaves when its own context ends; the
// refresh goes on for the others.
func TestRunnerWaiterLeavesWithItsContext(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		release := make(chan struct{})
		r := NewRunner(func(context.Context) error { <-release; return nil })
		first := make(chan error, 1)
		go func() { first <- r.Refresh(t.Context()) }()
		synctest.Wait()
		ctx, cancel := context.WithTimeout(t.Context(), time.Second)
		defer cancel()
		if err := r.Refresh(ctx); !errors.Is(err, context.DeadlineExceeded) {
			t.Fatalf("waiter: %v, want its deadline", err)
		}
		close(release)
		if err := <-first; err != nil {
			t.Fatalf("the refresh itself: %v", err)
		}
	})
}

// Run refreshes at once and then every interval, each under its timeout; a
// refresh still running when the next is due makes that one skip; it
// returns once the context ends and its watch has ended too.
func TestRunSchedule(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		start := time.Now()
		var (
			mu        sync.Mutex // the race detector does not see synctest's order
			starts    []time.Duration
			deadlines []time.Duration
			took      time.Duration
		)
		r := NewRunner(func(ctx context.Context) error {
			mu.Lock()
			starts = append(starts, time.Since(start))
			d, _ := ctx.Deadline()
			deadlines = append(deadlines, d.Sub(start))
			sleep := took
			mu.Unlock()
			time.Sleep(sleep)
			return nil
		})
		ctx, cancel := context.WithCancel(t.Context())
		var watched atomic.Bool
		done := make(chan struct{})
		go func() {
			r.Run(ctx, Schedule{Interval: time.Minute, Timeout: 5 * time.Minute, Watch: func(ctx context.Context) {
				<-ctx.Done()
				time.Sleep(time.Second) // a watch that takes a moment to end is still waited for
				watched.Store(true)
			}})
			close(done)
		}()
		time.Sleep(3*time.Minute + time.Second)
		mu.Lock()
		want := []time.Duration{0, time.Minute, 2 * time.Minute, 3 * time.Minute}
		if !equal(starts, want) || deadlines[1] != 6*time.Minute {
			t.Fatalf("refreshes at %v with deadlines %v, want at %v, each 5m after its start", starts, deadlines, want)
		}
		// From now on each refresh takes 150 s: the due times within it
		// are skipped, and the next starts as soon as it ends.
		took, starts = 150*time.Second, nil
		mu.Unlock()
		time.Sleep(7 * time.Minute)
		mu.Lock()
		want = []time.Duration{4 * time.Minute, 6*time.Minute + 30*time.Second, 9 * time.Minute}
		if !equal(starts, want) {
			t.Fatalf("slow refreshes at %v, want %v", starts, want)
		}
		mu.Unlock()
		cancel()
		<-done
		if !watched.Load() {
			t.Fatal("Run returned before its watch ended")
		}
	})
}

func equal(a, b []time.Duration) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

// Without a timeout, a refresh may take the interval, and at least a minute.
func TestRunDefaultTimeout(t *testing.T) {
	for _, tt := range []struct{ interval, want time.Duration }{{10 * time.Second, time.Minute}, {5 * time.Minute, 5 * time.Minute}} {
		synctest.Test(t, func(t *testing.T) {
			got := make(chan time.Duration, 1)
			ctx, cancel := context.WithCancel(t.Context())
			start := time.Now()
			r := NewRunner(func(ctx context.Context) error {
				d, _ := ctx.Deadline()
				select {
				case got <- d.Sub(start):
				default:
				}
				cancel()
				return nil
			})
			r.Run(ctx, Schedule{Interval: tt.interval})
			if d := <-got; d != tt.want {
				t.Fatalf("interval %v: timeout %v, want %v", tt.interval, d, tt.want)
			}
		})
	}
}
