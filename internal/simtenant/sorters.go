package simtenant

import (
	"fmt"
	"slices"
	"strings"
)

type sortKey struct {
	field string
	desc  bool
}

// parseSorters reads the standard "sorters" parameter: comma-separated
// fields, "-" for descending. Only the fields the endpoint documents are
// accepted; anything else is a 400 as on ISC.
func parseSorters(s string) ([]sortKey, error) {
	if strings.TrimSpace(s) == "" {
		return nil, nil
	}
	var keys []sortKey
	for part := range strings.SplitSeq(s, ",") {
		f := strings.TrimSpace(part)
		k := sortKey{}
		if rest, ok := strings.CutPrefix(f, "-"); ok {
			k.desc, f = true, rest
		}
		switch f {
		case "type", "created", "modified":
		case "":
			return nil, fmt.Errorf("invalid sorters %q: empty sort field", s)
		default:
			return nil, fmt.Errorf("invalid sorters %q: sorting on '%s' is not supported; supported fields are type, created and modified", s, f)
		}
		k.field = f
		keys = append(keys, k)
	}
	return keys, nil
}

// topN keeps the n first entries of a stream in sorter order, by keys then
// id ascending whatever the direction, so equal keys (a bulk refresh shares
// one instant) still page stably with offset. Nulls come first ascending,
// hence last descending; times compare at millisecond precision like the
// filters. A page needs only offset+limit entries, so a bounded max-heap
// over the scan beats sorting every match and needs no copy of the matches.
type topN struct {
	keys []sortKey
	n    int
	heap []entry // max-heap: heap[0] is the worst entry kept
}

func (h *topN) less(x, y *entry) bool { return compareEntries(h.keys, x, y) < 0 }

func (h *topN) offer(e *entry) {
	if h.n <= 0 {
		return
	}
	if len(h.heap) < h.n {
		h.heap = append(h.heap, *e)
		for i := len(h.heap) - 1; i > 0; {
			p := (i - 1) / 2
			if !h.less(&h.heap[p], &h.heap[i]) {
				break
			}
			h.heap[i], h.heap[p] = h.heap[p], h.heap[i]
			i = p
		}
		return
	}
	if !h.less(e, &h.heap[0]) {
		return
	}
	h.heap[0] = *e
	for i := 0; ; {
		l, big := 2*i+1, i
		if l < len(h.heap) && h.less(&h.heap[big], &h.heap[l]) {
			big = l
		}
		if r := l + 1; r < len(h.heap) && h.less(&h.heap[big], &h.heap[r]) {
			big = r
		}
		if big == i {
			return
		}
		h.heap[i], h.heap[big] = h.heap[big], h.heap[i]
		i = big
	}
}

// sorted empties the heap into ascending order.
func (h *topN) sorted() []entry {
	slices.SortFunc(h.heap, func(x, y entry) int { return compareEntries(h.keys, &x, &y) })
	return h.heap
}

func compareEntries(keys []sortKey, x, y *entry) int {
	for _, k := range keys {
		var c int
		switch k.field {
		case "type":
			c = compareNullable(x.nullType, y.nullType, strings.Compare(x.typ, y.typ))
		case "created":
			c = compareNullable(x.nullCreated, y.nullCreated, cmpInt(x.created, y.created))
		case "modified":
			c = compareNullable(x.nullModified, y.nullModified, cmpInt(x.modified, y.modified))
		}
		if k.desc {
			c = -c
		}
		if c != 0 {
			return c
		}
	}
	return strings.Compare(x.id, y.id)
}

func compareNullable(xNull, yNull bool, c int) int {
	switch {
	case xNull && yNull:
		return 0
	case xNull:
		return -1
	case yNull:
		return 1
	}
	return c
}
