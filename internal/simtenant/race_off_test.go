//go:build !race

package simtenant

const raceEnabled = false
