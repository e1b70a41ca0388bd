package area

import (
	"maps"
	"slices"
	"testing"
)

type record struct{ created int64 }

func TestIDMapKeepsEveryIDApart(t *testing.T) {
	ids := []string{
		"2c9180835d2e5168015d32f890ca1581", // ISC's usual form: stored compact
		"2C9180835D2E5168015D32F890CA1581", // same digits, upper case: a different id
		"2c9180835d2e5168015d32f890ca158",  // 31 digits
		"2c9180835d2e5168015d32f890ca1581x",
		"2c918083-5d2e-5168-015d-32f890ca1581",
		"zz9180835d2e5168015d32f890ca1581",
		"",
	}
	s := NewIDMap[record]()
	for i, id := range ids {
		s.Set(id, record{created: int64(i + 1)})
	}
	if s.Len() != len(ids) || len(s.Compact) != 1 {
		t.Fatalf("len %d (compact %d), want %d (1)", s.Len(), len(s.Compact), len(ids))
	}
	for i, id := range ids {
		if e, ok := s.Get(id); !ok || e.created != int64(i+1) {
			t.Fatalf("Get(%q) = %+v, %v", id, e, ok)
		}
	}
	seen := map[string]int64{}
	s.Each(func(id string, v record) { seen[id] = v.created })
	if got := slices.Sorted(maps.Keys(seen)); !slices.Equal(got, slices.Sorted(slices.Values(ids))) {
		t.Fatalf("Each gave the ids %q, want %q", got, ids)
	}
	s.Remove(ids[0])
	s.Remove(ids[4])
	if _, ok := s.Get(ids[0]); ok || s.Len() != len(ids)-2 {
		t.Fatalf("Remove left %d records", s.Len())
	}
	visited := 0
	s.Update(func(e *record) (bool, bool) {
		visited++
		e.created *= 10
		return true, e.created != 20
	})
	if visited != len(ids)-2 || s.Len() != len(ids)-3 {
		t.Fatalf("Update visited %d and kept %d", visited, s.Len())
	}
	if e, _ := s.Get(ids[2]); e.created != 30 {
		t.Fatalf("Update did not store the change: %+v", e)
	}
}
