package apimetrics

import (
	"bytes"
	"log/slog"
	"strings"
	"testing"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/sailpoint-exporter/sailpoint_exporter/client"
)

// A deprecated answer is counted every time and said once per endpoint,
// with the path and what the headers say.
func TestDeprecatedAnswers(t *testing.T) {
	var logs bytes.Buffer
	reg := prometheus.NewPedanticRegistry()
	m := New(reg, nil, slog.New(slog.NewTextHandler(&logs, nil)))
	d := client.Deprecation{Endpoint: "list", Path: "/v3/account-activities", XDeprecated: "true", Sunset: "Wed, 01 Sep 2027 00:00:00 GMT"}
	for range 3 {
		m.Deprecated(d)
	}
	m.Deprecated(client.Deprecation{Endpoint: "sources", Path: "/v3/sources", Deprecation: "@1798761600"})
	if n := testutil.ToFloat64(m.deprecated.WithLabelValues("list")); n != 3 {
		t.Fatalf("counted %v deprecated list answers, want 3", n)
	}
	if n := testutil.ToFloat64(m.deprecated.WithLabelValues("task-status")); n != 0 {
		t.Fatalf("task-status: %v", n)
	}
	lines := strings.Split(strings.TrimSpace(logs.String()), "\n")
	if len(lines) != 2 || !strings.Contains(lines[0], "path=/v3/account-activities") || !strings.Contains(lines[0], `sunset="Wed, 01 Sep 2027 00:00:00 GMT"`) ||
		!strings.Contains(lines[0], "--isc.api-version") || !strings.Contains(lines[1], "deprecation=@1798761600") {
		t.Fatalf("logged:\n%s", logs.String())
	}
	if problems, err := testutil.GatherAndLint(reg); err != nil || len(problems) != 0 {
		t.Fatalf("lint: %v %v", problems, err)
	}
}

// The path info says where each endpoint's requests go, with the tenant's
// name when it has one.
func TestPathInfo(t *testing.T) {
	p := NewPaths(func() []client.PathInUse {
		return []client.PathInUse{{Endpoint: "list", Path: "/account-activities/v1"}, {Endpoint: "task-status", Path: "/v2025/task-status"}}
	}, prometheus.Labels{"tenant": "sandbox"})
	want := `# HELP sailpoint_api_path_info The path of ISC's API each endpoint's requests go to now, value 1 (per-service /…/v1 paths, or a yearly collection's).
# TYPE sailpoint_api_path_info gauge
sailpoint_api_path_info{endpoint="list",path="/account-activities/v1",tenant="sandbox"} 1
sailpoint_api_path_info{endpoint="task-status",path="/v2025/task-status",tenant="sandbox"} 1
`
	if err := testutil.CollectAndCompare(p, strings.NewReader(want)); err != nil {
		t.Fatal(err)
	}
}
