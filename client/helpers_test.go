package client

import (
	"context"
	"io"
	"strings"
	"sync"
	"time"

	"github.com/sailpoint-exporter/sailpoint_exporter/internal/fakeclock"
)

// fakeSleeper stands in for the client's sleep: it records each wait and,
// when the test runs on a fake clock, moves that clock by it instead of
// taking the time; a context that has ended ends it, as it ends a real
// sleep. With no clock, time does not move: the wait is only recorded.
type fakeSleeper struct {
	clk *fakeclock.Clock

	mu    sync.Mutex
	waits []time.Duration
}

func (s *fakeSleeper) sleep(ctx context.Context, d time.Duration) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	s.mu.Lock()
	s.waits = append(s.waits, d)
	s.mu.Unlock()
	if s.clk != nil {
		s.clk.Advance(d)
	}
	return nil
}

// slept returns the waits so far, in order.
func (s *fakeSleeper) slept() []time.Duration {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]time.Duration(nil), s.waits...)
}

// repeated streams pattern n times, holding one block of it: a test of a
// bound of 64 MiB reads more than that without keeping it.
func repeated(pattern string, n int) io.Reader {
	return &repeatReader{block: strings.Repeat(pattern, max(1, 32<<10/len(pattern))), left: int64(len(pattern)) * int64(n)}
}

type repeatReader struct {
	block string // a whole number of patterns
	off   int    // in block
	left  int64
}

func (r *repeatReader) Read(p []byte) (int, error) {
	if r.left <= 0 {
		return 0, io.EOF
	}
	if int64(len(p)) > r.left {
		p = p[:r.left]
	}
	n := 0
	for n < len(p) {
		c := copy(p[n:], r.block[r.off:])
		n += c
		r.off = (r.off + c) % len(r.block)
	}
	r.left -= int64(n)
	return n, nil
}
