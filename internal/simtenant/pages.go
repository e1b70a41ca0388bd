package simtenant

import (
	"encoding/json"
	"fmt"
	"slices"
	"strings"
	"time"
)

// Pages renders the tenant's activities as list pages, ordered by modified as
// a keyset scan reads them, each activity padded with client metadata to at
// least minBytes of JSON. Benchmarks use it to decode realistic pages without
// measuring the tenant's own filtering and sorting.
func (t *Tenant) Pages(pageSize, minBytes int) ([][]byte, error) {
	t.mu.Lock()
	all := make([]Activity, 0, len(t.byID))
	for _, rec := range t.byID {
		all = append(all, rec.a.Clone())
	}
	t.mu.Unlock()
	slices.SortFunc(all, func(a, b Activity) int {
		if c := modifiedOf(&a).Compare(modifiedOf(&b)); c != 0 {
			return c
		}
		return strings.Compare(a.ID, b.ID)
	})
	var pages [][]byte
	for start := 0; start < len(all); start += pageSize {
		page := all[start:min(start+pageSize, len(all))]
		for i := range page {
			if err := pad(&page[i], minBytes); err != nil {
				return nil, err
			}
		}
		b, err := json.Marshal(page)
		if err != nil {
			return nil, err
		}
		pages = append(pages, b)
	}
	return pages, nil
}

func pad(a *Activity, minBytes int) error {
	const value = "custom value that a request form attached to this access request"
	b, err := json.Marshal(a)
	if err != nil {
		return err
	}
	if a.ClientMetadata == nil {
		a.ClientMetadata = map[string]string{}
	}
	for k := 0; len(b) < minBytes; k++ {
		key := fmt.Sprintf("customKey%d", k)
		a.ClientMetadata[key] = value
		b = append(b, make([]byte, len(key)+len(value)+6)...) // "key":"value",
	}
	return nil
}

func modifiedOf(a *Activity) time.Time {
	if a.Modified != nil {
		return *a.Modified
	}
	return time.Time{}
}
