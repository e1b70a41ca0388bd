//go:build race

package race

// Enabled: this binary was built with the race detector (go test -race).
const Enabled = true
