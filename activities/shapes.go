package activities

import (
	"encoding/binary"
	"slices"
)

// itemCount is how many items of one activity are in one provisioning status
// with one operation.
type itemCount struct {
	prov, op uint16
	n        uint32
}

// itemShapes interns the item states of activities. Gauges need each tracked
// activity's items to take them back out when the activity changes; most
// activities share a handful of shapes (one ADD item FINISHED, say), so a
// shared, reference-counted table costs four bytes per activity instead of a
// slice.
type itemShapes struct {
	shapes [][]itemCount // index 0: no items
	refs   []int
	index  map[string]uint32
	free   []uint32
	key    []byte
}

func newItemShapes() *itemShapes {
	return &itemShapes{shapes: [][]itemCount{nil}, refs: []int{0}, index: map[string]uint32{}}
}

// acquire returns the id of counts (sorted by prov, op, without repeats) and
// takes a reference to it.
func (s *itemShapes) acquire(counts []itemCount) uint32 {
	if len(counts) == 0 {
		return 0
	}
	s.setKey(counts)
	if id, ok := s.index[string(s.key)]; ok {
		s.refs[id]++
		return id
	}
	var id uint32
	if n := len(s.free); n > 0 {
		id, s.free = s.free[n-1], s.free[:n-1]
		s.shapes[id], s.refs[id] = slices.Clone(counts), 1
	} else {
		id = uint32(len(s.shapes))
		s.shapes = append(s.shapes, slices.Clone(counts))
		s.refs = append(s.refs, 1)
	}
	s.index[string(s.key)] = id
	return id
}

// release drops a reference; a shape no activity uses is forgotten.
func (s *itemShapes) release(id uint32) {
	if id == 0 {
		return
	}
	s.refs[id]--
	if s.refs[id] > 0 {
		return
	}
	s.setKey(s.shapes[id])
	delete(s.index, string(s.key))
	s.shapes[id] = nil
	s.free = append(s.free, id)
}

func (s *itemShapes) counts(id uint32) []itemCount { return s.shapes[id] }

// setKey makes s.key the index key of counts.
func (s *itemShapes) setKey(counts []itemCount) {
	s.key = s.key[:0]
	for _, c := range counts {
		s.key = binary.LittleEndian.AppendUint16(s.key, c.prov)
		s.key = binary.LittleEndian.AppendUint16(s.key, c.op)
		s.key = binary.LittleEndian.AppendUint32(s.key, c.n)
	}
}

// appendCount adds one item to counts, kept sorted by (prov, op).
func appendCount(counts []itemCount, prov, op uint16) []itemCount {
	i, found := slices.BinarySearchFunc(counts, itemCount{prov: prov, op: op}, func(a, b itemCount) int {
		if a.prov != b.prov {
			return int(a.prov) - int(b.prov)
		}
		return int(a.op) - int(b.op)
	})
	if found {
		counts[i].n++
		return counts
	}
	return slices.Insert(counts, i, itemCount{prov: prov, op: op, n: 1})
}

// restore replaces the table with shapes (index 0 empty; nil for a free id)
// and their reference counts, as a state file keeps them.
func (s *itemShapes) restore(shapes [][]itemCount, refs []int) {
	s.shapes, s.refs, s.free = shapes, refs, nil
	clear(s.index)
	for id := 1; id < len(shapes); id++ {
		if refs[id] == 0 {
			s.shapes[id] = nil
			s.free = append(s.free, uint32(id))
			continue
		}
		s.setKey(shapes[id])
		s.index[string(s.key)] = uint32(id)
	}
}
