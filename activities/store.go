package activities

// entryStore holds the tracked activities by id. ISC's ids are 32 lowercase
// hex digits; those are kept as 16 bytes in a map without pointers, which
// saves the 32-byte string of each and spares the garbage collector from
// scanning a million of them. Any other id is kept as it is.
type entryStore struct {
	compact map[[16]byte]entry
	other   map[string]entry
}

func newEntryStore() entryStore {
	return entryStore{compact: map[[16]byte]entry{}, other: map[string]entry{}}
}

// compactID packs a 32-digit lowercase hex id; ok is false for any other id,
// so that two distinct ids never share a key.
func compactID(id string) (k [16]byte, ok bool) {
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

func (s *entryStore) get(id string) (entry, bool) {
	if k, ok := compactID(id); ok {
		e, found := s.compact[k]
		return e, found
	}
	e, found := s.other[id]
	return e, found
}

func (s *entryStore) set(id string, e entry) {
	if k, ok := compactID(id); ok {
		s.compact[k] = e
		return
	}
	s.other[id] = e
}

func (s *entryStore) remove(id string) {
	if k, ok := compactID(id); ok {
		delete(s.compact, k)
		return
	}
	delete(s.other, id)
}

func (s *entryStore) len() int { return len(s.compact) + len(s.other) }

// update calls f for every entry; f may change the entry it is given, and
// reports whether it did and whether the entry is kept.
func (s *entryStore) update(f func(e *entry) (changed, keep bool)) {
	updateMap(s.compact, f)
	updateMap(s.other, f)
}

func updateMap[K comparable](m map[K]entry, f func(e *entry) (changed, keep bool)) {
	var e entry // one variable for all: its address escapes to f
	for k, v := range m {
		e = v
		switch changed, keep := f(&e); {
		case !keep:
			delete(m, k)
		case changed:
			m[k] = e
		}
	}
}
