// Package apimetrics instruments the exporter's own requests to ISC: how
// many, how they ended, how long they took, and how far ISC's clock is from
// the host's. Unlike the areas' metrics, these describe work the process
// does, so they are ordinary instrumented metrics.
package apimetrics

import (
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// Requests instruments the exporter's own requests to ISC.
type Requests struct {
	requests *prometheus.CounterVec
	duration *prometheus.HistogramVec
}

// New registers the API request metrics with reg.
func New(reg prometheus.Registerer) *Requests {
	m := &Requests{
		requests: prometheus.NewCounterVec(prometheus.CounterOpts{
			Namespace: "sailpoint",
			Name:      "api_requests_total",
			Help:      "HTTP requests sent to ISC, retries included, by endpoint (token, list, get, sources, managed-clusters) and HTTP status code, or \"error\" when no answer arrived.",
		}, []string{"endpoint", "code"}),
		duration: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Namespace: "sailpoint",
			Name:      "api_request_duration_seconds",
			Help:      "Time from sending a request to ISC to reading its whole answer.",
			Buckets:   []float64{0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60},
		}, []string{"endpoint"}),
	}
	reg.MustRegister(m.requests, m.duration)
	return m
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
func NewClockOffset(offset func() (time.Duration, bool)) *ClockOffset {
	return &ClockOffset{
		desc: prometheus.NewDesc("sailpoint_isc_clock_offset_seconds",
			"ISC's clock minus this host's, from the Date headers of ISC's answers; the counting rule follows ISC's clock.", nil, nil),
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
