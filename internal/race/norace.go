//go:build !race

// Package race says whether the race detector is on, for tests that size
// their work by it. The detector multiplies the CPU time of a test by 5 to
// 20: a test whose worth is the volume of records it streams through one
// refresher on a fake clock runs without it, at full size, in make test's
// unit-full, and SkipVolume skips it under the detector in unit-race, which
// runs every other test. Tests of goroutines that meet (ranges read side by
// side, scrapes during refreshes, the simulated tenant's concurrent use) run
// under it, whatever their size.
package race

// Enabled: this binary was built with the race detector (go test -race).
const Enabled = false
