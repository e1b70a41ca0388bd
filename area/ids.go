package area

import (
	"encoding/hex"

	"github.com/sailpoint-exporter/sailpoint_exporter/state"
)

// IDMap holds an area's tracked records by ISC's id. ISC's ids are 32
// lowercase hex digits; those are kept as 16 bytes in a map without
// pointers, which saves the 32-byte string of each and spares the garbage
// collector from scanning a million of them. Any other id is kept as it is.
// The maps are exported for the state file's encoders; everything else goes
// through the methods.
type IDMap[V any] struct {
	Compact map[[16]byte]V
	Other   map[string]V
}

// NewIDMap returns an empty IDMap.
func NewIDMap[V any]() IDMap[V] {
	return IDMap[V]{Compact: map[[16]byte]V{}, Other: map[string]V{}}
}

// CompactID packs a 32-digit lowercase hex id; ok is false for any other id,
// so that two distinct ids never share a key.
func CompactID(id string) (k [16]byte, ok bool) {
	if len(id) != 32 {
		return k, false
	}
	for i := range 16 {
		hi, ok1 := hexDigit(id[2*i])
		lo, ok2 := hexDigit(id[2*i+1])
		if !ok1 || !ok2 {
			return k, false
		}
		k[i] = hi<<4 | lo
	}
	return k, true
}

func hexDigit(c byte) (byte, bool) {
	switch {
	case c >= '0' && c <= '9':
		return c - '0', true
	case c >= 'a' && c <= 'f':
		return c - 'a' + 10, true
	}
	return 0, false
}

func (s *IDMap[V]) Get(id string) (V, bool) {
	if k, ok := CompactID(id); ok {
		v, found := s.Compact[k]
		return v, found
	}
	v, found := s.Other[id]
	return v, found
}

func (s *IDMap[V]) Set(id string, v V) {
	if k, ok := CompactID(id); ok {
		s.Compact[k] = v
		return
	}
	s.Other[id] = v
}

func (s *IDMap[V]) Remove(id string) {
	if k, ok := CompactID(id); ok {
		delete(s.Compact, k)
		return
	}
	delete(s.Other, id)
}

func (s *IDMap[V]) Len() int { return len(s.Compact) + len(s.Other) }

// Update calls f for every record; f may change the record it is given,
// and reports whether it did and whether the record is kept.
func (s *IDMap[V]) Update(f func(v *V) (changed, keep bool)) {
	updateMap(s.Compact, f)
	updateMap(s.Other, f)
}

// Each calls f with every record and its id, in no order.
func (s *IDMap[V]) Each(f func(id string, v V)) {
	for k, v := range s.Compact {
		f(hex.EncodeToString(k[:]), v)
	}
	for id, v := range s.Other {
		f(id, v)
	}
}

func updateMap[K comparable, V any](m map[K]V, f func(v *V) (changed, keep bool)) {
	var v V // one variable for all: its address escapes to f
	for k, x := range m {
		v = x
		switch changed, keep := f(&v); {
		case !keep:
			delete(m, k)
		case changed:
			m[k] = v
		}
	}
}

// EncodeState writes every record with its id, each by write, handing the
// encoder's buffer on as it grows.
func (s *IDMap[V]) EncodeState(w *state.Encoder, write func(V)) {
	w.N(len(s.Compact))
	for k, v := range s.Compact {
		w.Raw(k[:])
		write(v)
		w.Flush()
	}
	w.N(len(s.Other))
	for id, v := range s.Other {
		w.Str(id)
		write(v)
		w.Flush()
	}
}

// DecodeState replaces the records with what EncodeState wrote, each read
// by read; it stops at the decoder's first error.
func (s *IDMap[V]) DecodeState(r *state.Decoder, read func() V) {
	n := r.N()
	s.Compact = make(map[[16]byte]V, n)
	for range n {
		var k [16]byte
		copy(k[:], r.Take(16))
		v := read()
		if r.Err() != nil {
			return
		}
		s.Compact[k] = v
	}
	for range r.N() {
		id := r.Str()
		v := read()
		if r.Err() != nil {
			return
		}
		s.Other[id] = v
	}
}
