package main

import (
	"log/slog"
	"time"

	"github.com/sailpoint-exporter/sailpoint_exporter/client"
	"github.com/sailpoint-exporter/sailpoint_exporter/internal/simtenant"
)

// Demo credentials: the simulated tenant's, on loopback only.
const (
	demoClientID     = "demo-client-id"
	demoClientSecret = "demo-client-secret"
)

// startDemo serves a simulated tenant with a day of activities and two of
// aggregations on loopback and points cfg at it; its RunDemo keeps it
// producing activities and aggregations.
func startDemo(cfg *client.Config, logger *slog.Logger) (*simtenant.Tenant, error) {
	tenant := simtenant.New(simtenant.Config{
		Clients:       map[string]string{demoClientID: demoClientSecret},
		Seed:          time.Now().UnixNano(),
		MaxActivities: 200_000,
	})
	tenant.SeedHistory(3000, 24*time.Hour)
	tenant.SeedTaskHistory(48 * time.Hour)
	url, err := tenant.Start()
	if err != nil {
		return nil, err
	}
	cfg.BaseURL, cfg.ClientID, cfg.ClientSecret = url, demoClientID, demoClientSecret
	logger.Info("Demo mode: serving a simulated ISC tenant", "url", url)
	return tenant, nil
}
