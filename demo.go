package main

import (
	"fmt"
	"log/slog"
	"time"

	"github.com/sailpoint-exporter/sailpoint_exporter/internal/simtenant"
	"github.com/sailpoint-exporter/sailpoint_exporter/tenant"
)

// Demo credentials: the simulated tenants', on loopback only.
const (
	demoClientID     = "demo-client-id"
	demoClientSecret = "demo-client-secret"
)

// maxDemoTenants bounds --demo.tenants: each simulated tenant holds a day
// of activities in memory.
const maxDemoTenants = 20

// demoTenantName names the i-th of n simulated tenants: none when there is
// one (no tenant label, as with --isc.url), else sandbox and production
// first, the two every ISC customer has.
func demoTenantName(i, n int) string {
	switch {
	case n == 1:
		return ""
	case i == 0:
		return "sandbox"
	case i == 1:
		return "production"
	}
	return fmt.Sprintf("tenant-%d", i+1)
}

// startDemos serves --demo.tenants simulated tenants, each with a day of
// activities and two of aggregations, on loopback, and returns them with
// the settings that watch them; their RunDemo keeps them producing
// activities and aggregations. With several, --state.file=X gives each
// the state file X.<name>.
func startDemos(s *settings, logger *slog.Logger) ([]*simtenant.Tenant, []tenant.Settings, error) {
	var sims []*simtenant.Tenant
	var list []tenant.Settings
	for i := range s.demoTenants {
		sim := simtenant.New(simtenant.Config{
			Clients:       map[string]string{demoClientID: demoClientSecret},
			Seed:          time.Now().UnixNano() + int64(i),
			MaxActivities: 200_000,
		})
		sim.SeedHistory(3000, 24*time.Hour)
		sim.SeedTaskHistory(48 * time.Hour)
		url, err := sim.Start()
		if err != nil {
			for _, done := range sims {
				_ = done.Close()
			}
			return nil, nil, err
		}
		sims = append(sims, sim)
		name := demoTenantName(i, s.demoTenants)
		ts := *s
		ts.url, ts.clientID = url, demoClientID
		if name != "" && s.stateFile != "" {
			ts.stateFile = s.stateFile + "." + name
		}
		list = append(list, ts.tenantSettings(name, demoClientSecret, "the demo"))
		logger.Info("Demo mode: serving a simulated ISC tenant", "url", url, tenant.Label, name)
	}
	return sims, list, nil
}
