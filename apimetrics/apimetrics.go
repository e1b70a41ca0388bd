// Package apimetrics instruments the exporter's own requests to ISC: how
// many, how they ended, how long they took, and how far ISC's clock is from
// the host's. Unlike the areas' metrics, these describe work the process
// does, so they are ordinary instrumented metrics.
package apimetrics

import (
	"log/slog"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/sailpoint-exporter/sailpoint_exporter/client"
)

// Requests instruments the exporter's own requests to ISC: how they ended,
// how long they took, the answers that said their path is deprecated, and
// those that were not as documented.
type Requests struct {
	requests   *prometheus.CounterVec
	duration   *prometheus.HistogramVec
	deprecated *prometheus.CounterVec
	unexpected *prometheus.CounterVec
	logger     *slog.Logger

	mu   sync.Mutex
	said map[string]bool // endpoints whose deprecation was said
}

// New registers the API request metrics with reg, each carrying
// constLabels (the tenant's name); logger says the first
// deprecated answer of each endpoint.
func New(reg prometheus.Registerer, constLabels prometheus.Labels, logger *slog.Logger) *Requests {
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	m := &Requests{
		requests: prometheus.NewCounterVec(prometheus.CounterOpts{
			Namespace:   "sailpoint",
			Name:        "api_requests_total",
			Help:        "HTTP requests sent to ISC, retries included, by endpoint (token, list, get, sources, managed-clusters, task-status) and HTTP status code, or \"error\" when no answer arrived.",
			ConstLabels: constLabels,
		}, []string{"endpoint", "code"}),
		duration: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Namespace:   "sailpoint",
			Name:        "api_request_duration_seconds",
			Help:        "Time from sending a request to ISC to reading its whole answer.",
			Buckets:     []float64{0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60},
			ConstLabels: constLabels,
		}, []string{"endpoint"}),
		deprecated: prometheus.NewCounterVec(prometheus.CounterOpts{
			Namespace:   "sailpoint",
			Name:        "api_deprecated_responses_total",
			Help:        "Answers of ISC that carry X-Deprecated, Deprecation or Sunset: the path the exporter uses for that endpoint is going away; set --isc.api-version.",
			ConstLabels: constLabels,
		}, []string{"endpoint"}),
		unexpected: prometheus.NewCounterVec(prometheus.CounterOpts{
			Namespace:   "sailpoint",
			Name:        "api_unexpected_answers_total",
			Help:        "Answers of ISC that are not as it documents them but could still be used, by endpoint and kind (unsorted_page, missing_id).",
			ConstLabels: constLabels,
		}, []string{"endpoint", "kind"}),
		logger: logger,
		said:   map[string]bool{},
	}
	// Start at zero: increase() and the alert see the first deprecated or
	// odd answer.
	for _, e := range []string{client.EndpointToken, client.EndpointList, client.EndpointGet, client.EndpointSources, client.EndpointManagedClusters, client.EndpointTaskStatus} {
		m.deprecated.WithLabelValues(e)
	}
	m.unexpected.WithLabelValues(client.EndpointList, client.UnexpectedUnsorted)
	m.unexpected.WithLabelValues(client.EndpointSources, client.UnexpectedMissingID)
	m.unexpected.WithLabelValues(client.EndpointManagedClusters, client.UnexpectedMissingID)
	reg.MustRegister(m.requests, m.duration, m.deprecated, m.unexpected)
	return m
}

// Deprecated records a deprecated answer; it fits client.Config.Deprecated.
// The first one of each endpoint is said, with the path and what ISC's
// headers say (the sunset date, where given).
func (m *Requests) Deprecated(d client.Deprecation) {
	m.deprecated.WithLabelValues(d.Endpoint).Inc()
	m.mu.Lock()
	first := !m.said[d.Endpoint]
	m.said[d.Endpoint] = true
	m.mu.Unlock()
	if first {
		m.logger.Warn("ISC says the path the exporter uses is deprecated: it will be switched off after its end-of-life period; "+
			"set --isc.api-version to a version that is not (v1, the per-service paths, unless the header is on those) before then",
			"endpoint", d.Endpoint, "path", d.Path, "x_deprecated", d.XDeprecated, "deprecation", d.Deprecation, "sunset", d.Sunset)
	}
}

// Unexpected records an odd answer; it fits client.Config.Unexpected.
func (m *Requests) Unexpected(endpoint, kind string) {
	m.unexpected.WithLabelValues(endpoint, kind).Inc()
}

// Paths exports sailpoint_api_path_info: the path each endpoint's requests
// go to now, fallbacks included.
type Paths struct {
	desc  *prometheus.Desc
	paths func() []client.PathInUse
}

// NewPaths returns the collector of sailpoint_api_path_info.
func NewPaths(paths func() []client.PathInUse, constLabels prometheus.Labels) *Paths {
	return &Paths{
		desc: prometheus.NewDesc("sailpoint_api_path_info",
			"The path of ISC's API each endpoint's requests go to now, value 1 (per-service /…/v1 paths, or a yearly collection's).",
			[]string{"endpoint", "path"}, constLabels),
		paths: paths,
	}
}

// Describe implements prometheus.Collector.
func (p *Paths) Describe(ch chan<- *prometheus.Desc) { ch <- p.desc }

// Collect implements prometheus.Collector.
func (p *Paths) Collect(ch chan<- prometheus.Metric) {
	for _, u := range p.paths() {
		ch <- prometheus.MustNewConstMetric(p.desc, prometheus.GaugeValue, 1, u.Endpoint, u.Path)
	}
}

// Observe records one request; it fits client.Config.Observe.
func (m *Requests) Observe(endpoint, code string, d time.Duration) {
	m.requests.WithLabelValues(endpoint, code).Inc()
	m.duration.WithLabelValues(endpoint).Observe(d.Seconds())
}

// ClockOffset exports how far ISC's clock is from the host's, as the client
// measures it from ISC's answers; nothing before the first answer.
type ClockOffset struct {
	desc   *prometheus.Desc
	offset func() (time.Duration, bool)
}

// NewClockOffset returns the collector of sailpoint_isc_clock_offset_seconds.
func NewClockOffset(offset func() (time.Duration, bool), constLabels prometheus.Labels) *ClockOffset {
	return &ClockOffset{
		desc: prometheus.NewDesc("sailpoint_isc_clock_offset_seconds",
			"ISC's clock minus this host's, from the Date headers of ISC's answers; the counting rule follows ISC's clock.", nil, constLabels),
		offset: offset,
	}
}

// Describe implements prometheus.Collector.
func (c *ClockOffset) Describe(ch chan<- *prometheus.Desc) { ch <- c.desc }

// Collect implements prometheus.Collector.
func (c *ClockOffset) Collect(ch chan<- prometheus.Metric) {
	if d, ok := c.offset(); ok {
		ch <- prometheus.MustNewConstMetric(c.desc, prometheus.GaugeValue, d.Seconds())
	}
}
