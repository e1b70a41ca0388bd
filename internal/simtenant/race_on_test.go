//go:build race

package simtenant

// raceEnabled relaxes timing expectations: the race detector slows the
// scan by an order of magnitude.
const raceEnabled = true
