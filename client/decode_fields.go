package client

import (
	"bytes"
	"unicode"
	"unicode/utf8"
)

// Field names as encoding/json folds them: see fieldOf.
const (
	fID = iota + 1
	fType
	fCompletionStatus
	fExecutionStatus
	fCreated
	fModified
	fCompleted
	fErrors
	fWarnings
	fItems
	fProvisioningStatus
	fOperation
	fSourceID
)

var activityFields = []string{fID: "id", fType: "type", fCompletionStatus: "completionStatus", fExecutionStatus: "executionStatus",
	fCreated: "created", fModified: "modified", fCompleted: "completed", fErrors: "errors", fWarnings: "warnings", fItems: "items"}

var itemFields = []string{fProvisioningStatus: "provisioningStatus", fOperation: "operation", fSourceID: "sourceId"}

// fieldOf returns which of names (indexed by field constant) name is, the
// way encoding/json matches a key to a struct field: exactly, or else by its
// case-folded form; 0 when none. Most names of a page are fields the
// exporter skips, so the exact match is a switch and the folded one is only
// tried where a length allows it.
func fieldOf(name []byte, names []string) int {
	if f := exactField(name); f != 0 && f < len(names) && names[f] != "" {
		return f
	}
	if len(name) < len(foldCandidates) {
		for _, f := range foldCandidates[len(name)] {
			if f < len(names) && names[f] != "" && asciiEqualFold(name, names[f]) {
				return f
			}
		}
	}
	// Only two runes outside ASCII fold to an ASCII letter: ſ (U+017F, to s)
	// and the Kelvin sign (U+212A, to k), whose encodings begin with these.
	if bytes.IndexByte(name, 0xC5) >= 0 || bytes.IndexByte(name, 0xE2) >= 0 {
		for f, n := range names {
			if n != "" && foldedEqual(name, n) {
				return f
			}
		}
	}
	return 0
}

// foldCandidates lists, by length, the fields whose name has that length:
// only those can match a name of that length case-insensitively in ASCII.
var foldCandidates = func() [20][]int {
	var out [20][]int
	for f, n := range activityFields {
		if n != "" {
			out[len(n)] = append(out[len(n)], f)
		}
	}
	for f, n := range itemFields {
		if n != "" {
			out[len(n)] = append(out[len(n)], f)
		}
	}
	return out
}()

// exactField is the field named exactly name, of either kind.
func exactField(name []byte) int {
	switch string(name) {
	case "id":
		return fID
	case "type":
		return fType
	case "completionStatus":
		return fCompletionStatus
	case "executionStatus":
		return fExecutionStatus
	case "created":
		return fCreated
	case "modified":
		return fModified
	case "completed":
		return fCompleted
	case "errors":
		return fErrors
	case "warnings":
		return fWarnings
	case "items":
		return fItems
	case "provisioningStatus":
		return fProvisioningStatus
	case "operation":
		return fOperation
	case "sourceId":
		return fSourceID
	}
	return 0
}

func asciiEqualFold(a []byte, b string) bool {
	for i := range a {
		x, y := a[i], b[i]
		if 'a' <= x && x <= 'z' {
			x -= 'a' - 'A'
		}
		if 'a' <= y && y <= 'z' {
			y -= 'a' - 'A'
		}
		if x != y {
			return false
		}
	}
	return true
}

// foldedEqual compares name, folded as encoding/json folds (each rune to the
// smallest of its simple case folding orbit), with the ASCII field name n.
func foldedEqual(name []byte, n string) bool {
	j := 0
	for i := 0; i < len(name); {
		r, size := utf8.DecodeRune(name[i:])
		i += size
		for {
			r2 := unicode.SimpleFold(r)
			if r2 <= r {
				r = r2
				break
			}
			r = r2
		}
		if r >= utf8.RuneSelf || j >= len(n) {
			return false
		}
		c := n[j]
		if 'a' <= c && c <= 'z' {
			c -= 'a' - 'A'
		}
		if byte(r) != c {
			return false
		}
		j++
	}
	return j == len(n)
}
