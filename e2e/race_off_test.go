//go:build !race

package e2e

// underRace: see race_on_test.go.
const underRace = false
