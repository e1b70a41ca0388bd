package e2e

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"os/exec"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/sailpoint-exporter/sailpoint_exporter/internal/simtenant"
	"github.com/sailpoint-exporter/sailpoint_exporter/internal/simtenant/simtest"
)

// Garbage from ISC, as the built exporter meets it: a 100,000-character
// type, invalid UTF-8 in a label field, a record that is not JSON, one with a
// timestamp in another format, 10,000 distinct types, and a 200 MB answer.
// The exporter stays up, counts each bad record once, serves /metrics that
// promtool accepts, and gives the memory of the oversized answer back.
func TestGarbageFromISCOnTheBinary(t *testing.T) {
	if testing.Short() {
		t.Skip("runs the built exporter")
	}
	t.Parallel()
	ctx, cancel := context.WithTimeout(t.Context(), 3*time.Minute)
	defer cancel()
	promtool := findBinary(t, "PROMTOOL_BIN", "promtool")
	tenant := simtest.New(simtenant.Config{Seed: 71, RateLimit: -1, Clients: map[string]string{"garbage-client": "garbage-secret"}})
	tenant.SeedHistory(2000, 2*time.Hour)
	now := time.Now().UTC().Truncate(time.Millisecond)
	upsert := func(id, typ string) {
		tenant.Upsert(simtenant.Activity{ID: id, Type: simtenant.Ptr(typ), Created: now.Add(-time.Minute), Modified: simtenant.Ptr(now),
			ExecutionStatus: "EXECUTING", CompletionStatus: simtenant.Ptr("PENDING")})
	}
	upsert("00000000000000000000000000000001", strings.Repeat("T", 100_000))
	upsert("00000000000000000000000000000002", "placeholder")
	raw, _ := tenant.RawJSON("00000000000000000000000000000002")
	simtest.Faults(tenant).Corrupt("00000000000000000000000000000002", strings.Replace(raw, "placeholder", "bad\xff\xfe\xfdtype", 1))
	upsert("00000000000000000000000000000003", "appRequest")
	simtest.Faults(tenant).Corrupt("00000000000000000000000000000003", `{"id":"00000000000000000000000000000003","name":"\q"}`)
	upsert("00000000000000000000000000000004", "appRequest")
	raw, _ = tenant.RawJSON("00000000000000000000000000000004")
	simtest.Faults(tenant).Corrupt("00000000000000000000000000000004", strings.Replace(raw, now.Format("2006-01-02T15:04:05.000Z"), fmt.Sprint(now.UnixMilli()), 1))
	for i := range 10_000 {
		upsert(fmt.Sprintf("1%031x", i), fmt.Sprintf("type-%05d", i))
	}
	tenantURL, err := tenant.Start()
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = tenant.Close() }()

	// In front of the tenant: the first list requests get 200 MB.
	target, _ := url.Parse(tenantURL)
	proxy := httputil.NewSingleHostReverseProxy(target)
	var oversized atomic.Int32
	front := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if strings.HasSuffix(r.URL.Path, "/account-activities") && r.URL.Query().Get("limit") != "1" && oversized.Add(1) <= 2 {
			w.Header().Set("Content-Type", "application/json")
			_, _ = io.WriteString(w, "[")
			_, _ = io.Copy(w, io.LimitReader(neverEnding('"'), 200<<20))
			return
		}
		proxy.ServeHTTP(w, r)
	}))
	defer front.Close()

	addr := serve(ctx, t, buildExporter(ctx, t), []string{"SAIL_CLIENT_SECRET=garbage-secret"},
		"--isc.url="+front.URL, "--isc.client-id=garbage-client", "--activities.refresh-interval=2s")
	metrics := "http://" + addr + "/metrics"
	var body []byte
	waitSeries(ctx, t, metrics, func(s map[string]float64) bool {
		b, err := httpGet(ctx, metrics)
		body = b
		return err == nil && s[seriesKey("sailpoint_up", nil)] == 1 &&
			s[seriesKey("sailpoint_activities_rejected_total", map[string]string{"reason": "malformed_json"})] >= 1
	})
	sleep(ctx, 5*time.Second) // a few more refreshes read it all again
	body, err = httpGet(ctx, metrics)
	if err != nil {
		t.Fatal(err)
	}
	s, err := parseSeries(body)
	if err != nil {
		t.Fatal(err)
	}
	for reason, want := range map[string]float64{"malformed_json": 1, "invalid_timestamp": 1} {
		if got := s[seriesKey("sailpoint_activities_rejected_total", map[string]string{"reason": reason})]; got != want {
			t.Errorf("rejected{reason=%s} = %v, want %v once however often it is read", reason, got, want)
		}
	}
	if got := s[seriesKey("sailpoint_label_values_truncated_total", map[string]string{"label": "type"})]; got != 1 {
		t.Errorf("truncated{label=type} = %v, want 1", got)
	}
	if len(body) > 2<<20 {
		t.Errorf("/metrics is %d bytes", len(body))
	}
	if !bytes.Contains(body, []byte("bad\uFFFD\uFFFD\uFFFDtype")) {
		t.Error("the invalid UTF-8 type should be served with replacement characters")
	}
	cmd := exec.CommandContext(ctx, promtool, "check", "metrics")
	cmd.Stdin = bytes.NewReader(body)
	if out, err := cmd.CombinedOutput(); err != nil || len(bytes.TrimSpace(out)) > 0 {
		t.Errorf("promtool check metrics: %v\n%s", err, out)
	}
	rss := s[seriesKey("process_resident_memory_bytes", nil)]
	t.Logf("after %d oversized answers: resident memory %.0f MB, /metrics %d bytes", min(oversized.Load(), 2), rss/1e6, len(body))
	if rss > 120e6 {
		t.Errorf("resident memory %.0f MB after the oversized answers: not given back", rss/1e6)
	}
}

// neverEnding is an endless run of one byte.
type neverEnding byte

func (b neverEnding) Read(p []byte) (int, error) {
	for i := range p {
		p[i] = byte(b)
	}
	return len(p), nil
}
