package e2e

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"net/http"
	"net/url"
	"os"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"
)

// The demo's credentials (demo.go), for asking the demo tenant itself what
// is true, by another route than the exporter.
const (
	demoClientID     = "demo-client-id"
	demoClientSecret = "demo-client-secret"
)

// demoTenant is the simulated tenant the exporter runs in --demo, reached
// over its own API.
type demoTenant struct {
	base  string
	token string
}

// findDemoTenant reads the tenant's URL from the exporter's log and signs in.
func findDemoTenant(ctx context.Context, t *testing.T, logFile string) *demoTenant {
	t.Helper()
	line := regexp.MustCompile(`Demo mode: serving a simulated ISC tenant" url=(http://127\.0\.0\.1:[0-9]+)`)
	base := waitFor(ctx, t, "the demo tenant's URL in the exporter's log", func() (string, error) {
		b, err := os.ReadFile(logFile)
		if err != nil {
			return "", err
		}
		m := line.FindSubmatch(b)
		if m == nil {
			return "", errors.New("not logged yet")
		}
		return string(m[1]), nil
	})
	form := url.Values{"grant_type": {"client_credentials"}, "client_id": {demoClientID}, "client_secret": {demoClientSecret}}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, base+"/oauth/token", strings.NewReader(form.Encode()))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = resp.Body.Close() }()
	var tok struct {
		AccessToken string `json:"access_token"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&tok); err != nil || tok.AccessToken == "" {
		t.Fatalf("demo tenant token: %s %v", resp.Status, err)
	}
	return &demoTenant{base: base, token: tok.AccessToken}
}

func (d *demoTenant) get(ctx context.Context, path string, v any) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, d.base+path, nil)
	if err != nil {
		return err
	}
	req.Header.Set("Authorization", "Bearer "+d.token)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return err
	}
	defer func() { _ = resp.Body.Close() }()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		return err
	}
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("GET %s: %s %s", path, resp.Status, b)
	}
	return json.Unmarshal(b, v)
}

type tenantSource struct {
	ID      string `json:"id"`
	Name    string `json:"name"`
	Healthy bool   `json:"healthy"`
	Status  string `json:"status"`
	Since   string `json:"since"`
}

// sourceNames is the tenant's own id → name of every source.
func (d *demoTenant) sourceNames(ctx context.Context, t *testing.T) map[string]string {
	t.Helper()
	var list []tenantSource
	if err := d.get(ctx, "/v3/sources?limit=250", &list); err != nil {
		t.Fatal(err)
	}
	if len(list) == 0 {
		t.Fatal("the demo tenant lists no source")
	}
	out := map[string]string{}
	for _, s := range list {
		out[s.ID] = s.Name
	}
	return out
}

// metrics decodes the label sets of an instant query's samples.
func metrics(t *testing.T, res []json.RawMessage) []map[string]string {
	t.Helper()
	var out []map[string]string
	for _, r := range res {
		var s struct {
			Metric map[string]string `json:"metric"`
		}
		if err := json.Unmarshal(r, &s); err != nil {
			t.Fatalf("%s: %v", r, err)
		}
		out = append(out, s.Metric)
	}
	return out
}

// wantName is the name a panel or alert should show for a source id: the
// tenant's, or the id itself for what the tenant does not list (none, other).
func wantName(names map[string]string, id string) string {
	if n, ok := names[id]; ok {
		return n
	}
	return id
}

// checkSourceNames: sailpoint_source_info holds every source of the tenant
// with the tenant's name, and the provisioning dashboard's per-source panels
// show those names.
func checkSourceNames(ctx context.Context, t *testing.T, prom *promAPI, tenant *demoTenant, root string, vars map[string]string) {
	names := tenant.sourceNames(ctx, t)
	res, err := prom.query(ctx, fmt.Sprintf(`sailpoint_source_info{job=%q}`, jobName))
	if err != nil {
		t.Fatal(err)
	}
	info := metrics(t, res)
	if len(info) != len(names) {
		t.Errorf("sailpoint_source_info has %d sources, the tenant %d", len(info), len(names))
	}
	for _, m := range info {
		if got, want := m["source_name"], names[m["source_id"]]; got != want {
			t.Errorf("sailpoint_source_info{source_id=%q}: source_name %q, the tenant says %q", m["source_id"], got, want)
		}
	}
	checked := 0
	for _, q := range dashboardQueries(t, root+"/dashboards") {
		if !strings.Contains(q.name, "provisioning.json") || !strings.Contains(q.expr, "source_name") || !strings.Contains(q.expr, "sailpoint_account_activity_items_completed_total") {
			continue
		}
		expr := substitute(q.expr, vars)
		got := waitFor(ctx, t, q.name+" to show a source", func() ([]map[string]string, error) {
			res, err := prom.query(ctx, expr)
			if err == nil && len(res) == 0 {
				err = errors.New("empty result")
			}
			if err != nil {
				return nil, err
			}
			return metrics(t, res), nil
		})
		for _, m := range got {
			if m["source_name"] != wantName(names, m["source_id"]) {
				t.Errorf("%s: source %q shown as %q, want %q", q.name, m["source_id"], m["source_name"], wantName(names, m["source_id"]))
			}
		}
		t.Logf("%s shows %d sources by name", q.name, len(got))
		checked++
	}
	if checked < 2 {
		t.Errorf("%d per-source panels with names checked, want the bar gauge and the time series", checked)
	}
}

// checkExemplar: Prometheus stored, for a failed-items series, an exemplar
// whose activity the demo tenant, asked directly, confirms: it has an item
// of that operation on that source that ended FAILED, and it completed when
// the exemplar says.
func checkExemplar(ctx context.Context, t *testing.T, prom *promAPI, tenant *demoTenant) {
	query := fmt.Sprintf(`sailpoint_account_activity_items_completed_total{job=%q, provisioning_status="FAILED"}`, jobName)
	series := prom.waitForExemplars(ctx, t, "an exemplar on a failed-items series", query)
	confirmed := 0
	for _, s := range series {
		for _, ex := range s.Exemplars {
			id := ex.Labels["activity_id"]
			if len(ex.Labels) != 1 || id == "" {
				t.Errorf("exemplar labels %v, want activity_id alone", ex.Labels)
				continue
			}
			var a struct {
				Type             string  `json:"type"`
				CompletionStatus string  `json:"completionStatus"`
				Completed        *string `json:"completed"`
				Items            []struct {
					ProvisioningStatus string `json:"provisioningStatus"`
					Operation          string `json:"operation"`
					SourceID           string `json:"sourceId"`
				} `json:"items"`
			}
			if err := tenant.get(ctx, "/v3/account-activities/"+url.PathEscape(id), &a); err != nil {
				t.Errorf("exemplar %s of %v: %v", id, s.SeriesLabels, err)
				continue
			}
			failedHere := false
			for _, it := range a.Items {
				src := it.SourceID
				if src == "" {
					src = "none"
				}
				if it.ProvisioningStatus == "FAILED" && (src == s.SeriesLabels["source_id"] || s.SeriesLabels["source_id"] == "other") &&
					(it.Operation == s.SeriesLabels["operation"] || s.SeriesLabels["operation"] == "other" || it.Operation == "" && s.SeriesLabels["operation"] == "none") {
					failedHere = true
				}
			}
			if !failedHere {
				t.Errorf("exemplar %s of %v: the tenant's activity has no such FAILED item: %+v", id, s.SeriesLabels, a)
				continue
			}
			if a.Completed != nil {
				// OpenMetrics writes the timestamp as float seconds, which
				// Prometheus truncates to milliseconds: 1 ms of slack.
				done, err := time.Parse(time.RFC3339Nano, *a.Completed)
				if d := done.UnixMilli() - int64(math.Round(ex.Timestamp*1000)); err != nil || d < -1 || d > 1 {
					t.Errorf("exemplar %s at %v, the tenant says it completed at %s", id, ex.Timestamp, *a.Completed)
				}
			}
			confirmed++
			if confirmed == 1 {
				t.Logf("exemplar activity_id=%s on %v: the tenant confirms it failed (%s, completionStatus %s)", id, s.SeriesLabels, a.Type, a.CompletionStatus)
			}
		}
	}
	t.Logf("%d exemplars confirmed by the tenant", confirmed)
}

// checkSourceUnhealthyFires waits for SailPointSourceUnhealthy to fire (the
// demo makes a source unhealthy within its first minute, for 90-240 s; the
// rules' for: are shortened) and checks it names the source the tenant says
// was unhealthy. A firing already over counts: ALERTS keeps it.
func checkSourceUnhealthyFires(ctx context.Context, t *testing.T, prom *promAPI, tenant *demoTenant, exporterStarted time.Time) {
	names := tenant.sourceNames(ctx, t)
	expr := fmt.Sprintf(`max_over_time(ALERTS{alertname="SailPointSourceUnhealthy", alertstate="firing", job=%q}[15m])`, jobName)
	firing := waitFor(ctx, t, "SailPointSourceUnhealthy to fire", func() (map[string]string, error) {
		res, err := prom.query(ctx, expr)
		if err != nil {
			return nil, err
		}
		if len(res) == 0 {
			return nil, errors.New("not firing yet")
		}
		return metrics(t, res)[0], nil
	})
	id := firing["source_id"]
	if firing["source_name"] != names[id] || firing["source_name"] == "" || firing["severity"] != "warning" || firing["connector"] == "" {
		t.Errorf("alert labels %v: want the source's name %q, its connector and severity warning", firing, names[id])
	}
	// When it first fired, from the ALERTS series itself (a subquery sees a
	// sample only once a whole step has passed: poll).
	first := fmt.Sprintf(`min_over_time(timestamp(ALERTS{alertname="SailPointSourceUnhealthy", alertstate="firing", job=%q, source_id=%q})[15m:1s])`, jobName, id)
	firedAt := waitFor(ctx, t, "the time it first fired", func() (time.Time, error) {
		res, err := prom.query(ctx, first)
		if err != nil {
			return time.Time{}, err
		}
		if len(res) != 1 {
			return time.Time{}, fmt.Errorf("%d samples", len(res))
		}
		var sample struct {
			Value [2]any `json:"value"`
		}
		if err := json.Unmarshal(res[0], &sample); err != nil {
			return time.Time{}, err
		}
		v, _ := sample.Value[1].(string)
		f, err := strconv.ParseFloat(v, 64)
		if err != nil {
			return time.Time{}, err
		}
		return time.UnixMilli(int64(f * 1000)), nil
	})
	// The tenant, asked directly: unhealthy now, or recovered since it fired.
	var src tenantSource
	if err := tenant.get(ctx, "/v3/sources/"+id, &src); err != nil {
		t.Fatal(err)
	}
	since, _ := time.Parse(time.RFC3339Nano, src.Since)
	if src.Healthy && since.Before(firedAt) {
		t.Errorf("the alert fired at %s for %s, which the tenant says has been healthy since %s", firedAt, id, src.Since)
	}
	t.Logf("SailPointSourceUnhealthy fired for %q (%s) %s after the exporter started; the tenant now says healthy=%v status %s since %s",
		firing["source_name"], id, firedAt.Sub(exporterStarted).Round(time.Second), src.Healthy, src.Status, src.Since)
}
