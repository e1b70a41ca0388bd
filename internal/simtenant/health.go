package simtenant

import "time"

// Source statuses as the spec spells them.
const (
	SourceHealthy = "SOURCE_STATE_HEALTHY"
)

// healthState is the health of the sources and clusters.
type healthState struct {
	sources  []sourceHealth // by index in sourcesCatalog
	clusters []clusterHealth
}

type sourceHealth struct {
	healthy bool
	status  string
	since   time.Time // the health check that found the status
}

type clusterHealth struct {
	status      string
	operational bool
	updated     time.Time
}

func newHealth(now time.Time) healthState {
	var h healthState
	for i := range sourcesCatalog {
		h.sources = append(h.sources, sourceHealth{true, SourceHealthy, now.Add(-time.Duration(3+7*i) * time.Minute)})
	}
	for i := range clustersCatalog {
		h.clusters = append(h.clusters, clusterHealth{ClusterNormal, true, now.Add(-time.Duration(2+13*i) * time.Hour)})
	}
	return h
}
