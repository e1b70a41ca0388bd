//go:build race

package e2e

// underRace: the race detector slows the simulated tenant, which runs in
// the test process, several times; the tests size their load to it.
const underRace = true
