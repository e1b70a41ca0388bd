package activities

import (
	"bytes"
	"fmt"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/sailpoint-exporter/sailpoint_exporter/client"
	"github.com/sailpoint-exporter/sailpoint_exporter/internal/race"
	"github.com/sailpoint-exporter/sailpoint_exporter/internal/simtenant"
	"github.com/sailpoint-exporter/sailpoint_exporter/internal/simtenant/simtest"
	"github.com/sailpoint-exporter/sailpoint_exporter/label"
)

// Garbage from ISC costs the exporter neither its other records nor its
// bounds: an unreadable record and a record with a bad timestamp are each
// counted once as rejected however often they are read again; a 100,000
// character type and invalid UTF-8 become valid label values of at most 128
// bytes; 10,000 distinct types (2,000 under -short) stay within the cap.
func TestGarbageFromISCIsBounded(t *testing.T) {
	race.SkipVolume(t)
	t.Parallel()
	s := newStack(t, simtenant.Config{Seed: 31, RateLimit: -1, EdgeCases: simtenant.EdgeCases{Off: true}},
		client.Config{PageSize: 100}, Options{Lookback: testLookback, MaxTypes: 64})
	s.tenant.SeedHistory(300, time.Hour)
	if err := s.refresher.Refresh(t.Context()); err != nil {
		t.Fatal(err)
	}

	now := time.Now().UTC().Truncate(time.Millisecond)
	long := strings.Repeat("Ä", 50_000)          // 100,000 bytes
	first, now := now, now.Add(time.Millisecond) // the special records are read before the 10,000 types fill the cap
	upsert := func(id, typ string, at time.Time) {
		s.tenant.Upsert(simtenant.Activity{ID: id, Type: simtenant.Ptr(typ), Created: now.Add(-time.Minute), Modified: simtenant.Ptr(at),
			Completed: simtenant.Ptr(at), ExecutionStatus: "COMPLETED", CompletionStatus: simtenant.Ptr("SUCCESS")})
	}
	upsert("0000000000000000000000000000long", long, first)
	upsert("000000000000000000000000000utf8x", "placeholder", first)
	raw, _ := s.tenant.RawJSON("000000000000000000000000000utf8x")
	simtest.Faults(s.tenant).Corrupt("000000000000000000000000000utf8x", strings.Replace(raw, "placeholder", "bad\xff\xfeutf8", 1))
	upsert("00000000000000000000000000broken", "appRequest", first)
	simtest.Faults(s.tenant).Corrupt("00000000000000000000000000broken", `{"id":"00000000000000000000000000broken","type":"\q"}`)
	upsert("00000000000000000000000000baddte", "appRequest", first)
	raw, _ = s.tenant.RawJSON("00000000000000000000000000baddte")
	simtest.Faults(s.tenant).Corrupt("00000000000000000000000000baddte", strings.Replace(raw, first.Format("2006-01-02T15:04:05.000Z"), "2026-12-01 06:00:00", 1))
	many := 10_000
	if testing.Short() {
		many = 2_000 // still 30 times the cap
	}
	for i := range many {
		upsert(fmt.Sprintf("%032x", 1_000_000+i), fmt.Sprintf("type-%05d", i), now)
	}

	for range 3 { // read again and again: each rejection counts once
		if err := s.refresher.Refresh(t.Context()); err != nil {
			t.Fatal(err)
		}
		s.refresher.cursor = client.Cursor{Modified: first}
	}
	got := s.gather(t)
	for reason, want := range map[string]float64{client.RejectMalformed: 1, client.RejectInvalidTimestamp: 1, client.RejectWrongType: 0, client.RejectMissingID: 0} {
		if v := value(got["sailpoint_activities_rejected_total"][key("reason", reason)]); v != want {
			t.Errorf("rejected{reason=%s} = %v, want %v", reason, v, want)
		}
	}
	if v := value(got["sailpoint_label_values_truncated_total"][key("label", "type")]); v != 1 {
		t.Errorf("truncated{label=type} = %v, want 1", v)
	}
	types := map[string]bool{}
	for k := range got["sailpoint_account_activities_completed_total"] {
		for _, part := range strings.Split(k, "|") {
			if v, ok := strings.CutPrefix(part, "type="); ok {
				types[v] = true
				if len(v) > label.MaxLen || !utf8.ValidString(v) {
					t.Errorf("label value of %d bytes, valid UTF-8 %v", len(v), utf8.ValidString(v))
				}
			}
		}
	}
	if len(types) > 64+1 || !types["other"] {
		t.Errorf("%d type values (other: %v), want at most the cap of 64 and other", len(types), types["other"])
	}
	if !types[label.Truncate(long, label.MaxLen)] || !types["bad\uFFFD\uFFFDutf8"] {
		t.Errorf("the long and the invalid UTF-8 types should be cut and replaced: %v", len(types))
	}
	if v := value(got["sailpoint_label_overflow_total"][key("label", "type")]); v < float64(many-64) {
		t.Errorf("overflow{label=type} = %v, want the types past the cap", v)
	}
	if problems, err := testutil.CollectAndLint(s.refresher.Collector()); err != nil || len(problems) > 0 {
		t.Errorf("lint: %v %v", problems, err)
	}
	var b bytes.Buffer
	b.WriteString(exposition(t, s.refresher.Collector()))
	if !utf8.Valid(b.Bytes()) || b.Len() > 1<<20 {
		t.Errorf("/metrics is %d bytes, valid UTF-8 %v", b.Len(), utf8.Valid(b.Bytes()))
	}
}
