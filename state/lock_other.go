//go:build !unix

package state

import "os"

// lockFile opens path without locking it: this platform has no flock. The
// README says to run one exporter per state file.
func lockFile(path string) (*os.File, error) {
	return os.OpenFile(path, os.O_RDWR|os.O_CREATE, 0o600)
}
