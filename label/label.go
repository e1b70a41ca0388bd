// Package label keeps label values bounded, for every area of the exporter:
// a value is ISC's string verbatim, "none" where ISC sent null or nothing,
// cut to MaxLen bytes, and, for labels whose values are counted over the
// life of the process, capped in number: past the cap a value is "other".
package label

import (
	"strings"
	"unicode/utf8"

	"github.com/sailpoint-exporter/sailpoint_exporter/state"
)

// Label values that the API's strings never take away: a null, absent or
// empty value, and the values past a cap.
const (
	None  = "none"
	Other = "other"
)

// Indexes of None and Other in every Values table.
const (
	NoneIndex  uint16 = 0
	OtherIndex uint16 = 1
)

// MaxLen bounds a label value, in bytes: a 100,000-character type from a
// misbehaving API must not make /metrics hundreds of megabytes. Values
// longer than this are cut at a rune boundary; two values alike in their
// first MaxLen bytes share a label.
const MaxLen = 128

// MaxEnumValues caps labels whose values come from an enum of the spec. ISC
// adds values without notice, so the cap is far above today's handful, but a
// misbehaving API still cannot make a series per request.
const MaxEnumValues = 32

// Of is v as a label value of a series that is rebuilt from each listing
// (nothing counted over time): verbatim, None when empty, cut to MaxLen.
func Of(v string) string {
	switch {
	case v == "":
		return None
	case len(v) > MaxLen:
		return Truncate(v, MaxLen)
	}
	return v
}

// Truncate cuts s to at most n bytes without splitting a rune; s is valid
// UTF-8 (the client replaces invalid bytes).
func Truncate(s string, n int) string {
	for n > 0 && !utf8.RuneStart(s[n]) {
		n--
	}
	return strings.Clone(s[:n])
}

// Values maps one label's values to small indexes so that tracked records
// and aggregates store two bytes instead of a string. The first max
// distinct values keep their own index for the life of the process (a
// counter's labels cannot change); later ones share Other.
type Values struct {
	max       int
	values    []string
	index     map[string]uint16
	truncated uint64 // values cut to MaxLen when they got their index
}

// NewValues returns a table that gives at most max values their own index.
func NewValues(max int) *Values {
	return &Values{
		max:    min(max, 1<<16-3),
		values: []string{None, Other},
		index:  map[string]uint16{},
	}
}

// Lookup returns the index of v, allocating one while under the cap.
func (l *Values) Lookup(v string) uint16 {
	if v == "" {
		return NoneIndex
	}
	if i, ok := l.index[v]; ok {
		return i
	}
	cut := len(v) > MaxLen
	if cut {
		v = Truncate(v, MaxLen)
		if i, ok := l.index[v]; ok {
			return i
		}
	}
	if len(l.values)-2 >= l.max {
		return OtherIndex
	}
	if cut {
		l.truncated++
	}
	i := uint16(len(l.values))
	l.values = append(l.values, v)
	l.index[v] = i
	return i
}

// Name is the label value of index i.
func (l *Values) Name(i uint16) string { return l.values[i] }

// Len is the number of indexes given, None and Other included.
func (l *Values) Len() int { return len(l.values) }

// Max is the cap of distinct values.
func (l *Values) Max() int { return l.max }

// Truncated counts the values that were cut to MaxLen when they got an index.
func (l *Values) Truncated() uint64 { return l.truncated }

// All returns the values by index; the caller must not change them.
func (l *Values) All() []string { return l.values }

// Restore replaces the table with values (None and Other first, as All
// returns them) and the truncation count, as a state file kept them. It
// reports false, changing nothing, when values cannot be a table's.
func (l *Values) Restore(values []string, truncated uint64) bool {
	if len(values) < 2 || len(values) > 1<<16 || values[NoneIndex] != None || values[OtherIndex] != Other {
		return false
	}
	index := make(map[string]uint16, len(values)-2)
	for i, v := range values[2:] {
		index[v] = uint16(i + 2)
	}
	l.values, l.index, l.truncated = values, index, truncated
	return true
}

// EncodeState writes the table: its values by index and the count of cut
// ones.
func (l *Values) EncodeState(e *state.Encoder) {
	e.N(len(l.values))
	for _, v := range l.values {
		e.Str(v)
	}
	e.U64(l.truncated)
}

// DecodeState replaces the table with what EncodeState wrote, failing d
// when it cannot be a table.
func (l *Values) DecodeState(d *state.Decoder) {
	n := d.N()
	values := make([]string, 0, n)
	for range n {
		values = append(values, d.Str())
	}
	truncated := d.U64()
	if d.Err() == nil && !l.Restore(values, truncated) {
		d.Fail("bad label table")
	}
}
