package race

import "testing"

// SkipVolume skips t under the race detector: t streams records through one
// goroutine's work at a size that makes it take most of a race run, and
// make test runs it without the detector (unit-full). See the package doc.
func SkipVolume(t testing.TB) {
	t.Helper()
	if Enabled {
		t.Skip("streams records through one refresher: run at full size without the race detector (make unit-full)")
	}
}
