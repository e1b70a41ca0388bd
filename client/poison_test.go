package client

import (
	"bytes"
	"fmt"
	"io"
	"math/bits"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/sailpoint-exporter/sailpoint_exporter/internal/simtenant"
	"github.com/sailpoint-exporter/sailpoint_exporter/internal/simtenant/simtest"
)

// scanWithRejections reads everything from `from` and returns what was
// delivered and rejected.
func (e *env) scanWithRejections(t *testing.T, from Cursor) ([]Activity, []Rejection) {
	t.Helper()
	var got []Activity
	var rejected []Rejection
	err := e.client.Scan(t.Context(), from, func(p Page) error {
		for _, a := range p.Activities {
			a.Items = append([]Item(nil), a.Items...)
			got = append(got, a)
		}
		rejected = append(rejected, p.Rejected...)
		return nil
	})
	if err != nil {
		t.Fatalf("Scan: %v", err)
	}
	return got, rejected
}

// A record ISC sends in a form that cannot be read no longer stalls the
// scan: the page that holds it is narrowed down until that one record is
// isolated, it is skipped and reported, and every other record is read. A
// record that is JSON but not an activity is rejected within its page, at no
// cost in requests.
func TestScanSkipsARecordThatCannotBeRead(t *testing.T) {
	t.Parallel()
	const pageSize = 50
	tests := []struct {
		name    string
		corrupt func(raw string) string
		reason  string
		// extra list requests beyond a clean scan, at most
		maxExtra int
	}{
		{"bad escape", func(raw string) string { return strings.Replace(raw, `"name":"`, `"name":"\q`, 1) }, RejectMalformed, 4},
		{"short unicode escape", func(raw string) string { return strings.Replace(raw, `"name":"`, `"name":"\u12","x":"`, 1) }, RejectMalformed, 4},
		{"raw control character", func(raw string) string { return strings.Replace(raw, `"name":"`, "\"name\":\"\x01", 1) }, RejectMalformed, 4},
		{"nested 100,000 deep", func(raw string) string {
			return strings.Replace(raw, `{`, `{"deep":`+strings.Repeat("[", 100_000)+strings.Repeat("]", 100_000)+`,`, 1)
		}, RejectTooDeep, 4},
		{"not JSON at all", func(string) string { return `{"id":` }, RejectMalformed, 4},
		{"space instead of T", func(raw string) string { return replaceField(raw, "created", `"2026-12-01 06:00:00"`) }, RejectInvalidTimestamp, 0},
		{"epoch milliseconds", func(raw string) string { return replaceField(raw, "completed", `1764568800000`) }, RejectInvalidTimestamp, 0},
		{"number for a type", func(raw string) string { return replaceField(raw, "type", `42`) }, RejectWrongType, 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			e := newEnv(t, simtenant.Config{Seed: 5}, func(c *Config) { c.PageSize = pageSize })
			e.tenant.SeedHistory(600, time.Hour)
			from := Cursor{Modified: time.Now().Add(-2 * time.Hour)}
			clean, _ := e.scanWithRejections(t, from)
			cleanRequests := count(e.endpoints(), "list 200")
			poisoned := clean[len(clean)/2+7] // in the middle of a page
			raw, ok := e.tenant.RawJSON(poisoned.ID)
			if !ok {
				t.Fatal("no raw JSON")
			}
			simtest.Faults(e.tenant).Corrupt(poisoned.ID, tt.corrupt(raw))

			before := count(e.endpoints(), "list 200")
			got, rejected := e.scanWithRejections(t, from)
			requests := count(e.endpoints(), "list 200") - before
			if len(rejected) != 1 || rejected[0].Reason != tt.reason || rejected[0].Key == "" {
				t.Fatalf("rejected %+v, want one %s", rejected, tt.reason)
			}
			if tt.reason != RejectMalformed && tt.reason != RejectTooDeep && rejected[0].ID != poisoned.ID {
				t.Errorf("rejected id %q, want %q", rejected[0].ID, poisoned.ID)
			}
			seen := map[string]bool{}
			for _, a := range got {
				seen[a.ID] = true
			}
			for _, a := range clean {
				if a.ID != poisoned.ID && !seen[a.ID] {
					t.Fatalf("activity %s, a neighbour of the poisoned record, was not delivered", a.ID)
				}
			}
			if seen[poisoned.ID] {
				t.Fatal("the poisoned record was delivered")
			}
			if extra := requests - cleanRequests; extra > tt.maxExtra {
				t.Fatalf("isolating it cost %d extra list requests (%d against %d), want at most %d", extra, requests, cleanRequests, tt.maxExtra)
			}
			t.Logf("%s: %d list requests, %d for a clean scan", tt.reason, requests, cleanRequests)
		})
	}
}

// Where the decoder cannot say in which element an answer broke (an answer
// larger than the bound), pages are halved: about 2·log2(page size) extra
// requests.
func TestScanIsolatesARecordTooLargeToRead(t *testing.T) {
	t.Parallel()
	const pageSize = 16
	e := newEnv(t, simtenant.Config{Seed: 6}, func(c *Config) { c.PageSize = pageSize })
	e.tenant.SeedHistory(100, time.Hour)
	from := Cursor{Modified: time.Now().Add(-2 * time.Hour)}
	clean, _ := e.scanWithRejections(t, from)
	cleanRequests := count(e.endpoints(), "list 200")
	poisoned := clean[37]
	// Wherever the record is in a page, it carries a field of maxBody bytes,
	// streamed, in a page of the announced length, as the tenant answers.
	start := []byte(`{"id":"` + poisoned.ID + `"`)
	streaming(t, e, "/account-activities/v1", func(_ int, _ *http.Request, body []byte) (io.Reader, int64) {
		i := bytes.Index(body, start)
		if i < 0 {
			return bytes.NewReader(body), int64(len(body))
		}
		const before, after = `"padding":"`, `",`
		return io.MultiReader(bytes.NewReader(body[:i+1]), strings.NewReader(before), repeated("x", maxBody),
			strings.NewReader(after), bytes.NewReader(body[i+1:])), int64(len(body) + len(before) + maxBody + len(after))
	})

	before := count(e.endpoints(), "list 200")
	got, rejected := e.scanWithRejections(t, from)
	requests := count(e.endpoints(), "list 200") - before
	if len(rejected) != 1 || rejected[0].Reason != RejectTooLarge || len(got) < len(clean)-1 {
		t.Fatalf("rejected %+v, delivered %d of %d", rejected, len(got), len(clean))
	}
	limit := cleanRequests + 2*2*bits.Len(pageSize) // two attempts per failing page
	if requests > limit {
		t.Fatalf("%d list requests, want at most %d", requests, limit)
	}
	t.Logf("too large: %d list requests, %d for a clean scan", requests, cleanRequests)
}

// replaceField sets field of a record's JSON to value.
func replaceField(raw, field, value string) string {
	key := fmt.Sprintf(`"%s":`, field)
	i := strings.Index(raw, key)
	if i < 0 {
		return strings.Replace(raw, "{", "{"+key+value+",", 1)
	}
	j := i + len(key)
	end := j
	for end < len(raw) && raw[end] != ',' && raw[end] != '}' {
		end++
	}
	return raw[:j] + value + raw[end:]
}
