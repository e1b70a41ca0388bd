package tenants

import (
	"context"
	"fmt"
	"log/slog"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/sailpoint-exporter/sailpoint_exporter/internal/scrapefloor"
	"github.com/sailpoint-exporter/sailpoint_exporter/internal/simtenant"
	"github.com/sailpoint-exporter/sailpoint_exporter/internal/simtenant/simtest"
	"github.com/sailpoint-exporter/sailpoint_exporter/tenant"
)

// benchTenants and benchActivities are the size: twenty tenants,
// each with 10,000 activities in its window.
const (
	benchTenants    = 20
	benchActivities = 10_000
)

// twentyTenants starts benchTenants simulated tenants, each with
// benchActivities activities over the last 20 hours and two days of
// aggregations, and a set watching all of them with every area on, read
// once in full.
func twentyTenants(b *testing.B) (*Set, *prometheus.Registry) {
	b.Helper()
	reg := prometheus.NewRegistry()
	set := NewSet(reg, slog.New(slog.DiscardHandler), SetOptions{})
	var list []tenant.Settings
	for i := range benchTenants {
		sim := simtest.New(simtenant.Config{Clients: map[string]string{simClientID: simSecret}, Seed: int64(1000 + i), RateLimit: -1})
		sim.SeedHistory(benchActivities, 20*time.Hour)
		sim.SeedTaskHistory(48 * time.Hour)
		url, err := sim.Start()
		if err != nil {
			b.Fatal(err)
		}
		b.Cleanup(func() { _ = sim.Close() })
		s := watch(fmt.Sprintf("customer-%02d", i+1), url, "")
		s.Clusters, s.ClustersInterval = true, time.Hour
		s.AggregationsInterval, s.AggregationsLookback = time.Hour, 168*time.Hour
		s.AggregationTypes = []string{"CLOUD_ACCOUNT_AGGREGATION", "CLOUD_GROUP_AGGREGATION"}
		list = append(list, s)
	}
	if _, err := set.Apply(list); err != nil {
		b.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	b.Cleanup(func() { cancel(); set.Stop() })
	for _, t := range set.Tenants() {
		if err := t.Activities().Refresh(ctx); err != nil {
			b.Fatal(err)
		}
		for _, inv := range t.Inventories() {
			if err := inv.Refresh(ctx); err != nil {
				b.Fatal(err)
			}
		}
		if err := t.Aggregations().Refresh(ctx); err != nil {
			b.Fatal(err)
		}
	}
	return set, reg
}

// BenchmarkTwentyTenantsScrape compares a /metrics request of twenty
// tenants, each with 10,000 activities in its window, with the floor:
// client_golang gathering and encoding the very same pre-built metrics
// (the tenant label included) from a collector that only sends them. Both
// run in the same loop, alternately, so the ratio is measured in one run
// whatever the machine's speed; both answers are checked byte for byte.
func BenchmarkTwentyTenantsScrape(b *testing.B) {
	set, ours := twentyTenants(b)
	var cs []prometheus.Collector
	for _, t := range set.Tenants() {
		cs = append(cs, t.Collector())
	}
	a := scrapefloor.Compare(b, ours, scrapefloor.Of(cs...))
	b.ReportMetric(float64(len(a)), "bytes")
}
