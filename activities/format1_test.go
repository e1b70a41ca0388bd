package activities

import (
	"crypto/sha256"
	"encoding/binary"
)

// formatOne seals rest (what follows the prefix) as a format 1 state file.
func formatOne(rest []byte) []byte {
	prefix := make([]byte, 8+4+8+sha256.Size)
	copy(prefix, "SPXSTATE")
	binary.LittleEndian.PutUint32(prefix[8:], 1)
	binary.LittleEndian.PutUint64(prefix[12:], uint64(len(rest)))
	sum := sha256.Sum256(rest)
	copy(prefix[20:], sum[:])
	return append(prefix, rest...)
}
