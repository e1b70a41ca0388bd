package simtenant

import (
	"math/rand/v2"
	"time"
)

// Source statuses as the spec spells them.
const (
	SourceHealthy      = "SOURCE_STATE_HEALTHY"
	SourceErrorCluster = "SOURCE_STATE_ERROR_CLUSTER"
	SourceErrorSource  = "SOURCE_STATE_ERROR_SOURCE"
)

// healthState is the health of the sources and clusters and the schedule
// Step follows to change it. Its own random source keeps the schedule from
// perturbing the activity data of a seed.
type healthState struct {
	rng      *rand.Rand
	srcs     []source       // the tenant's sources: the catalog, then synthetic ones
	sources  []sourceHealth // by index in srcs
	clusters []clusterHealth
	started  bool

	down                             int // index of the source in an outage, or -1
	downSince, downUntil, nextOutage time.Time
	warn                             int // index of the cluster in WARNING, or -1
	warnUntil, nextWarn              time.Time
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

// Health schedule, on the tenant's clock from the first Step: the first
// source outage starts 20-40 s in and each lasts 90-240 s; the next starts
// 5-10 min after a recovery. The first cluster warning starts 3-5 min in and
// each lasts 1-3 min; the next starts 10-20 min after. So a demo run (Step
// every second) has an unhealthy source within its first minute for at
// least a minute and a half.
const (
	firstOutageMin, firstOutageMax = 20 * time.Second, 40 * time.Second
	outageMin, outageMax           = 90 * time.Second, 240 * time.Second
	outageGapMin, outageGapMax     = 5 * time.Minute, 10 * time.Minute
	firstWarnMin, firstWarnMax     = 3 * time.Minute, 5 * time.Minute
	warnMin, warnMax               = time.Minute, 3 * time.Minute
	warnGapMin, warnGapMax         = 10 * time.Minute, 20 * time.Minute

	// outageFailure is the chance that an item on a source in an outage is
	// planned to fail, on top of its usual chance.
	outageFailure = 0.6
)

func newHealth(seed int64, now time.Time, srcs []source) healthState {
	h := healthState{rng: rand.New(rand.NewPCG(uint64(seed), 0x4ea17)), srcs: srcs, down: -1, warn: -1}
	for i := range srcs {
		h.sources = append(h.sources, sourceHealth{true, SourceHealthy, now.Add(-time.Duration(3+7*i) * time.Minute)})
	}
	for i := range clustersCatalog {
		h.clusters = append(h.clusters, clusterHealth{ClusterNormal, true, now.Add(-time.Duration(2+13*i) * time.Hour)})
	}
	return h
}

func (h *healthState) between(lo, hi time.Duration) time.Duration {
	return lo + time.Duration(h.rng.Int64N(int64(hi-lo)+1))
}

// step applies the schedule; callers hold t.mu.
func (h *healthState) step(now time.Time) {
	if !h.started {
		h.started = true
		h.nextOutage = now.Add(h.between(firstOutageMin, firstOutageMax))
		h.nextWarn = now.Add(h.between(firstWarnMin, firstWarnMax))
	}
	if h.down >= 0 && !now.Before(h.downUntil) {
		h.sources[h.down] = sourceHealth{true, SourceHealthy, now}
		h.down = -1
		h.nextOutage = now.Add(h.between(outageGapMin, outageGapMax))
	}
	if h.down < 0 && !now.Before(h.nextOutage) {
		h.down = h.rng.IntN(len(h.srcs))
		status := SourceErrorSource
		if h.srcs[h.down].cluster >= 0 && h.rng.IntN(2) == 0 {
			status = SourceErrorCluster
		}
		h.sources[h.down] = sourceHealth{false, status, now}
		h.downSince, h.downUntil = now, now.Add(h.between(outageMin, outageMax))
	}
	if h.warn >= 0 && !now.Before(h.warnUntil) {
		h.clusters[h.warn] = clusterHealth{ClusterNormal, true, now}
		h.warn = -1
		h.nextWarn = now.Add(h.between(warnGapMin, warnGapMax))
	}
	if h.warn < 0 && !now.Before(h.nextWarn) {
		h.warn = h.rng.IntN(len(clustersCatalog))
		h.clusters[h.warn] = clusterHealth{ClusterWarning, true, now}
		h.warnUntil = now.Add(h.between(warnMin, warnMax))
	}
}

// inOutage reports whether sourceID was down at instant at, so an activity
// created then plans more failures on it.
func (h *healthState) inOutage(sourceID string, at time.Time) bool {
	return h.down >= 0 && h.srcs[h.down].id == sourceID && !at.Before(h.downSince)
}
