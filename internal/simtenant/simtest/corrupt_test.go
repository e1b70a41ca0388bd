package simtest

import (
	"bytes"
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/sailpoint-exporter/sailpoint_exporter/internal/simtenant"
)

// TestCorrupt puts one malformed element among 249 good ones: the raw text
// takes the record's place byte for byte, the rest of the page is what it
// was, get answers the raw text too, and Corrupt(id, "") restores it.
func TestCorrupt(t *testing.T) {
	h := newHarness(t, simtenant.Config{RateLimit: -1, Seed: 9})
	h.tenant.SeedHistory(300, 24*time.Hour)
	query := q("limit", "250", "sorters", "-created")
	clean := h.get("/v3/account-activities", query)
	good := elements(t, clean.body)
	const pos = 100
	var victim view
	if err := json.Unmarshal([]byte(good[pos]), &victim); err != nil {
		t.Fatal(err)
	}
	normal, ok := h.tenant.RawJSON(victim.ID)
	if !ok || normal != good[pos] {
		t.Fatalf("RawJSON differs from the page:\n%s\n%s", normal, good[pos])
	}
	if _, ok := h.tenant.RawJSON(hexN(0xbad)); ok {
		t.Errorf("RawJSON of an unknown id")
	}
	created := strings.Replace(normal, `"created":"`+victim.Created.Format(msLayout)+`"`, `"created":"2026-12-01 06:00:00"`, 1)
	modified := strings.Replace(normal, `"modified":"`+victim.Modified.Format(msLayout)+`"`, `"modified":1764568800000`, 1)
	if created == normal || modified == normal {
		t.Fatal("could not derive the schema-breaking variants")
	}
	cases := map[string]string{
		"invalid JSON":     `{"id":"` + victim.ID + `","name":`,
		"invalid UTF-8":    "{\"id\":\"\xff\xfe\xfd\"}",
		"deeply nested":    strings.Repeat("[", 10000) + strings.Repeat("]", 10000),
		"huge":             `{"id":"` + victim.ID + `","name":"` + strings.Repeat("x", 1<<20) + `"}`,
		"created as space": created,
		"modified as ms":   modified,
	}
	for name, raw := range cases {
		t.Run(name, func(t *testing.T) {
			h.faults.Corrupt(victim.ID, raw)
			want := "[" + strings.Join(good[:pos], ",") + "," + raw + "," + strings.Join(good[pos+1:], ",") + "]"
			for _, prefix := range []string{"/v3", "/v2025"} {
				r := h.get(prefix+"/account-activities", query)
				if r.status != 200 || !bytes.Equal(r.body, []byte(want)) {
					t.Errorf("%s page with the corrupt record (%d bytes) differs from the expected %d bytes", prefix, len(r.body), len(want))
				}
			}
			// Filters and sorters still read the real fields: a filter that
			// the real created passes keeps the raw text in the page.
			f := q("filters", "created ge "+victim.Created.Format(msLayout)+" and created le "+victim.Created.Format(msLayout))
			if r := h.get("/v3/account-activities", f); !strings.Contains(string(r.body), raw) {
				t.Errorf("filtered page lost the corrupt record: %.200s", r.body)
			}
			for _, path := range []string{"/v3/account-activities/", "/beta/account-activities/"} {
				if r := h.get(path+victim.ID, nil); r.status != 200 || string(r.body) != raw {
					t.Errorf("get %s: %d, body is not the raw text", path, r.status)
				}
			}
		})
	}
	// It stays corrupt across new versions, until restored.
	h.faults.Corrupt(victim.ID, "garbage")
	h.tenant.Modify(victim.ID, func(*simtenant.Activity) {})
	if r := h.get("/v3/account-activities/"+victim.ID, nil); string(r.body) != "garbage" {
		t.Errorf("a new version lost the corruption: %.80s", r.body)
	}
	h.faults.Corrupt(victim.ID, "")
	if r := h.get("/v3/account-activities/"+victim.ID, nil); !json.Valid(r.body) || !strings.Contains(string(r.body), victim.ID) {
		t.Errorf("restore: %.80s", r.body)
	}
	h.faults.Corrupt(hexN(0xbad), "ignored") // unknown ids are ignored
}
