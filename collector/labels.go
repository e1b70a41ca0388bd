package collector

import (
	"strings"
	"unicode/utf8"
)

// Label values that the API's strings never take away: a null, absent or
// empty value, and the values past a cap.
const (
	labelNone  = "none"
	labelOther = "other"
)

const (
	noneIndex  uint16 = 0
	otherIndex uint16 = 1
)

// labelValues maps one label's values to small indexes so that tracked
// activities and aggregates store two bytes instead of a string. The first
// max distinct values keep their own index for the life of the process (a
// counter's labels cannot change); later ones share "other".
type labelValues struct {
	max       int
	values    []string
	index     map[string]uint16
	truncated uint64 // values cut to maxLabelLen when they got their index
}

// maxLabelLen bounds a label value, in bytes: a 100,000-character type from
// a misbehaving API must not make /metrics hundreds of megabytes. Values
// longer than this are cut at a rune boundary; two values alike in their
// first maxLabelLen bytes share a label.
const maxLabelLen = 128

func newLabelValues(max int) *labelValues {
	return &labelValues{
		max:    min(max, 1<<16-3),
		values: []string{labelNone, labelOther},
		index:  map[string]uint16{},
	}
}

// lookup returns the index of v, allocating one while under the cap.
func (l *labelValues) lookup(v string) uint16 {
	if v == "" {
		return noneIndex
	}
	if i, ok := l.index[v]; ok {
		return i
	}
	cut := len(v) > maxLabelLen
	if cut {
		v = truncateUTF8(v, maxLabelLen)
		if i, ok := l.index[v]; ok {
			return i
		}
	}
	if len(l.values)-2 >= l.max {
		return otherIndex
	}
	if cut {
		l.truncated++
	}
	i := uint16(len(l.values))
	l.values = append(l.values, v)
	l.index[v] = i
	return i
}

// truncateUTF8 cuts s to at most n bytes without splitting a rune; s is
// valid UTF-8 (the client replaces invalid bytes).
func truncateUTF8(s string, n int) string {
	for n > 0 && !utf8.RuneStart(s[n]) {
		n--
	}
	return strings.Clone(s[:n])
}

func (l *labelValues) name(i uint16) string { return l.values[i] }

// labelSpace holds the values of every label the exporter emits.
type labelSpace struct {
	typ          *labelValues
	completion   *labelValues
	execution    *labelValues
	provisioning *labelValues
	operation    *labelValues
	source       *labelValues
}

// maxEnumValues caps labels whose values come from an enum of the spec. ISC
// adds values without notice, so the cap is far above today's handful, but a
// misbehaving API still cannot make a series per request.
const maxEnumValues = 32

func newLabelSpace(maxTypes, maxSources int) labelSpace {
	return labelSpace{
		typ:          newLabelValues(maxTypes),
		completion:   newLabelValues(maxEnumValues),
		execution:    newLabelValues(maxEnumValues),
		provisioning: newLabelValues(maxEnumValues),
		operation:    newLabelValues(maxEnumValues),
		source:       newLabelValues(maxSources),
	}
}

// all returns the tables in a fixed order, the state file's.
func (s *labelSpace) all() []*labelValues {
	return []*labelValues{s.typ, s.completion, s.execution, s.provisioning, s.operation, s.source}
}
