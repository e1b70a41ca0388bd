package client

import (
	"math/rand/v2"
	"net/http"
	"strconv"
	"strings"
	"time"
)

// maxRetryAfter caps what a Retry-After header can impose, so a bogus value
// cannot stop the exporter for days; ISC's windows are 10 seconds.
const maxRetryAfter = 10 * time.Minute

// retryAfter reads the Retry-After header of a 429: delay-seconds or an
// HTTP-date. ok is false when there is none.
func (e *APIError) retryAfter(now time.Time) (time.Duration, bool) {
	if e.header == nil {
		return 0, false
	}
	v := strings.TrimSpace(e.header.Get("Retry-After"))
	if v == "" {
		return 0, false
	}
	var d time.Duration
	if secs, err := strconv.ParseFloat(v, 64); err == nil {
		if secs < 0 {
			return 0, false
		}
		d = time.Duration(secs * float64(time.Second))
	} else if at, err := http.ParseTime(v); err == nil {
		d = at.Sub(now)
	} else {
		return 0, false
	}
	return min(max(d, 0), maxRetryAfter), true
}

func jitter(d time.Duration) time.Duration {
	if d <= 0 {
		return 0
	}
	return rand.N(d)
}
