package simtenant

import (
	"encoding/json"
	"slices"
	"testing"
	"time"
)

// outage is one unhealthy spell of a source, as the ground truth showed it.
type outage struct {
	source     string
	status     string
	start, end time.Time // end is zero while it lasts
}

// TestHealthDynamics steps a demo-like tenant (one Step a second) for half
// an hour and checks the schedule the demo relies on: a source is unhealthy
// within the first minute for over a minute and then recovers, a cluster
// passes through WARNING and back, since follows each change, and the API
// shows what the truth says.
func TestHealthDynamics(t *testing.T) {
	h := newHarness(t, Config{RateLimit: -1, Seed: 3, EdgeCases: EdgeCases{Off: true}, TokenTTL: 2 * time.Hour})
	h.tenant.SeedHistory(100, time.Hour)
	start := h.clock.Now()
	var outages []outage
	var warnings []outage
	prevSources := h.tenant.Sources()
	for step := 1; step <= 1800; step++ {
		h.clock.Advance(time.Second)
		h.tenant.Step()
		now := h.clock.Now().Truncate(time.Millisecond)
		srcs := h.tenant.Sources()
		for i, s := range srcs {
			if s == prevSources[i] {
				continue
			}
			if !s.Since.Equal(now) {
				t.Errorf("%s changed to %s with since %v, want the Step's %v", s.Name, s.Status, s.Since, now)
			}
			switch {
			case !s.Healthy && prevSources[i].Healthy:
				if s.Status != SourceErrorSource && (s.Status != SourceErrorCluster || s.ClusterID == "") {
					t.Errorf("%s unhealthy with status %s", s.Name, s.Status)
				}
				outages = append(outages, outage{source: s.ID, status: s.Status, start: now})
			case s.Healthy && !prevSources[i].Healthy:
				if s.Status != SourceHealthy {
					t.Errorf("healthy with status %s", s.Status)
				}
				outages[len(outages)-1].end = now
			default:
				t.Errorf("%s changed from %+v to %+v", s.Name, prevSources[i], s)
			}
		}
		prevSources = srcs
		for _, c := range h.tenant.Clusters() {
			if !c.Operational {
				t.Errorf("%s not operational", c.Name)
			}
			n := len(warnings)
			switch {
			case c.Status == ClusterWarning && (n == 0 || !warnings[n-1].end.IsZero()):
				warnings = append(warnings, outage{source: c.ID, start: now})
			case c.Status == ClusterNormal && n > 0 && warnings[n-1].source == c.ID && warnings[n-1].end.IsZero():
				warnings[n-1].end = now
			case c.Status != ClusterWarning && c.Status != ClusterNormal:
				t.Errorf("cluster status %s", c.Status)
			}
		}
		if step%60 == 0 {
			checkHealthAPI(t, h)
		}
	}
	if len(outages) < 3 || len(warnings) < 1 {
		t.Fatalf("%d outages, %d warnings in half an hour", len(outages), len(warnings))
	}
	first := outages[0]
	if first.start.Sub(start) > time.Minute || first.end.Sub(first.start) < 90*time.Second || first.end.IsZero() {
		t.Errorf("first outage %v to %v after the start; want within a minute, for at least 90 s", first.start.Sub(start), first.end.Sub(start))
	}
	for _, o := range outages {
		if !o.end.IsZero() && (o.end.Sub(o.start) < outageMin || o.end.Sub(o.start) > outageMax+time.Second) {
			t.Errorf("outage lasted %v", o.end.Sub(o.start))
		}
	}
	if w := warnings[0]; w.start.Sub(start) > firstWarnMax+time.Second || w.end.IsZero() || w.end.Sub(w.start) > warnMax+time.Second {
		t.Errorf("first warning %v to %v after the start", w.start.Sub(start), w.end.Sub(start))
	}

	// A coherent story: items started on a source during its outage fail
	// far more often than the others.
	var inOutage, outageFailed, other, otherFailed int
	for _, a := range snapshot(h.tenant) {
		if !a.IsTerminal() || a.Created.Before(start) {
			continue
		}
		for _, it := range a.Items {
			down := slices.ContainsFunc(outages, func(o outage) bool {
				return o.source == it.SourceID && !it.Requested.Before(o.start) && (o.end.IsZero() || it.Requested.Before(o.end))
			})
			failed := it.ProvisioningStatus == ProvFailed
			if down {
				inOutage++
				if failed {
					outageFailed++
				}
			} else {
				other++
				if failed {
					otherFailed++
				}
			}
		}
	}
	outageRate, otherRate := float64(outageFailed)/float64(inOutage), float64(otherFailed)/float64(other)
	t.Logf("%d outages, %d warnings; items failed %.0f%% of %d during outages, %.0f%% of %d otherwise",
		len(outages), len(warnings), 100*outageRate, inOutage, 100*otherRate, other)
	if inOutage < 50 || outageRate < 0.4 || otherRate > 0.2 {
		t.Errorf("outage items fail %.2f, others %.2f", outageRate, otherRate)
	}
}

// checkHealthAPI compares what the endpoints show with Sources and Clusters.
func checkHealthAPI(t *testing.T, h *harness) {
	t.Helper()
	truth := h.tenant.Sources()
	api := h.sources()
	for i, s := range api {
		want := truth[i]
		if s.ID != want.ID || s.Healthy != want.Healthy || s.Status != want.Status || !s.Since.Equal(want.Since) {
			t.Errorf("API %+v, truth %+v", s, want)
		}
	}
	var clusters []map[string]any
	if err := json.Unmarshal(h.get("/v3/managed-clusters", nil).body, &clusters); err != nil {
		t.Fatal(err)
	}
	for i, c := range h.tenant.Clusters() {
		got := clusters[i]
		warn := c.Status == ClusterWarning
		if got["status"] != c.Status || got["operational"] != c.Operational || (got["alertKey"] == "LIMITED_RESOURCES") != warn ||
			(got["consolidatedHealthIndicatorsStatus"] == ClusterWarning) != warn {
			t.Errorf("API %v %v %v %v, truth %+v", got["status"], got["operational"], got["alertKey"], got["consolidatedHealthIndicatorsStatus"], c)
		}
	}
	unhealthy := h.sources("filters", `status ne "SOURCE_STATE_HEALTHY"`)
	n := 0
	for _, s := range truth {
		if !s.Healthy {
			n++
		}
	}
	if len(unhealthy) != n {
		t.Errorf("filter on status finds %d unhealthy, truth %d", len(unhealthy), n)
	}
}
