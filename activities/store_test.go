package activities

import "testing"

func TestEntryStoreKeepsEveryIDApart(t *testing.T) {
	ids := []string{
		"2c9180835d2e5168015d32f890ca1581", // ISC's usual form: stored compact
		"2C9180835D2E5168015D32F890CA1581", // same digits, upper case: a different id
		"2c9180835d2e5168015d32f890ca158",  // 31 digits
		"2c9180835d2e5168015d32f890ca1581x",
		"2c918083-5d2e-5168-015d-32f890ca1581",
		"zz9180835d2e5168015d32f890ca1581",
		"",
	}
	s := newEntryStore()
	for i, id := range ids {
		s.set(id, entry{created: int64(i + 1)})
	}
	if s.len() != len(ids) || len(s.compact) != 1 {
		t.Fatalf("len %d (compact %d), want %d (1)", s.len(), len(s.compact), len(ids))
	}
	for i, id := range ids {
		if e, ok := s.get(id); !ok || e.created != int64(i+1) {
			t.Fatalf("get(%q) = %+v, %v", id, e, ok)
		}
	}
	s.remove(ids[0])
	s.remove(ids[4])
	if _, ok := s.get(ids[0]); ok || s.len() != len(ids)-2 {
		t.Fatalf("remove left %d entries", s.len())
	}
	visited := 0
	s.update(func(e *entry) (bool, bool) {
		visited++
		e.created *= 10
		return true, e.created != 20
	})
	if visited != len(ids)-2 || s.len() != len(ids)-3 {
		t.Fatalf("update visited %d and kept %d", visited, s.len())
	}
	if e, _ := s.get(ids[2]); e.created != 30 {
		t.Fatalf("update did not store the change: %+v", e)
	}
}
