// Package inventory lists the two small collections of ISC objects that say
// why provisioning fails: the sources (their names and health) and the
// managed (virtual appliance) clusters (their status). Each is listed in the
// background with its own period, success gauge and outage streak, and
// served as const metrics built when its listing ended: their failures never
// touch the activity metrics, nor theirs them.
package inventory

import (
	"context"
	"errors"
	"log/slog"
	"strconv"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/sailpoint-exporter/sailpoint_exporter/area"
	"github.com/sailpoint-exporter/sailpoint_exporter/client"
	"github.com/sailpoint-exporter/sailpoint_exporter/label"
	"github.com/sailpoint-exporter/sailpoint_exporter/outage"
)

// SourceLister lists the tenant's sources: the ISC client, in production.
type SourceLister interface {
	ListSources(ctx context.Context) ([]client.Source, error)
}

// ClusterLister lists the tenant's managed clusters: the ISC client, in
// production.
type ClusterLister interface {
	ListManagedClusters(ctx context.Context) ([]client.ManagedCluster, error)
}

// Default caps of NewSources and NewManagedClusters: --sources.max's
// default, and far more virtual appliance clusters than a tenant has.
const (
	defaultMaxSources  = 256
	defaultMaxClusters = 100
)

// Options configure NewSources and NewManagedClusters.
type Options struct {
	// Max bounds how many sources or clusters are reported: the first Max
	// by id. Default 256 for sources, 100 for clusters.
	Max int
	// Interval is the period of the background listing, said in the log
	// lines of a failure.
	Interval time.Duration
	Logger   *slog.Logger
	Now      func() time.Time
	// ConstLabels are carried by every series (the tenant's name).
	ConstLabels prometheus.Labels
}

// Inventory lists one small collection of ISC objects (sources, or managed
// clusters) and serves what the last listing said, with its own success
// gauge. Its Runner runs one listing at a time, so a listing owns the
// fields below without a lock.
type Inventory struct {
	kind      *kind
	fetch     func(ctx context.Context) (data []prometheus.Metric, listed int, err error)
	opts      Options
	publisher *area.Publisher
	runner    *area.Runner

	status    area.Status
	failures  outage.Streak
	capLogged bool
}

// kind is what differs between the sources and the clusters.
type kind struct {
	what, capName       string // "sources", "--sources.max"
	status              area.StatusDescs
	data                []*prometheus.Desc
	forbidden, notFound string // the one line logged on 403 and 404
}

// NewSources returns the sources collector: the name, connector, type and
// health of each source. Nothing is listed until Refresh or Run.
func NewSources(l SourceLister, opts Options) *Inventory {
	desc := descs(opts.ConstLabels)
	d := sourceDescs{
		info: desc("source_info",
			"Information about a source, value 1: its name, connector, type, whether it is authoritative and its virtual appliance cluster (cached from the last listing).",
			lSource, "source_name", "connector", lType, "authoritative", "cluster_id"),
		healthy: desc("source_healthy",
			"1 if ISC says the source is healthy, 0 if not; absent when ISC does not say (cached from the last listing).",
			lSource),
		status: desc("source_status",
			"The source's health status as ISC states it (SOURCE_STATE_*), value 1 for the current one (cached from the last listing).",
			lSource, "status"),
		checked: desc("source_last_health_check_timestamp_seconds",
			"When ISC last checked the source's health (its since), as a Unix time (cached from the last listing).",
			lSource),
	}
	inv := newInventory(&kind{
		what:    "sources",
		capName: "--sources.max",
		status: area.StatusDescs{
			Up: desc("sources_up",
				"1 if the last listing of sources from ISC succeeded, 0 if it failed; the source metrics then keep their last known values."),
			LastSuccess: desc("sources_last_success_timestamp_seconds",
				"Unix time at which sources were last listed from ISC."),
		},
		data: []*prometheus.Desc{d.info, d.healthy, d.status, d.checked},
		forbidden: "ISC refused to list sources (HTTP 403): the token needs the scope " + client.SourcesScope +
			" (sp:scopes:all includes it) and an owner with the user level ORG_ADMIN, SOURCE_ADMIN, SOURCE_SUBADMIN or ROLE_SUBADMIN; " +
			unaffected("source", "--sources.refresh-interval", "--no-collector.sources"),
		notFound: "ISC has no sources list at the path the exporter uses on this tenant (HTTP 404; the error names the path, sailpoint_api_path_info shows it); " + unaffected("source", "--sources.refresh-interval", "--no-collector.sources"),
	}, opts, defaultMaxSources)
	inv.fetch = func(ctx context.Context) ([]prometheus.Metric, int, error) {
		list, err := l.ListSources(ctx)
		if err != nil {
			return nil, 0, err
		}
		return d.metrics(list, inv.opts.Max), len(list), nil
	}
	return inv
}

// NewManagedClusters returns the managed clusters collector: the name, type,
// status and operational state of each virtual appliance cluster. Nothing
// is listed until Refresh or Run.
func NewManagedClusters(l ClusterLister, opts Options) *Inventory {
	desc := descs(opts.ConstLabels)
	d := clusterDescs{
		info: desc("managed_cluster_info",
			"Information about a managed cluster (a group of virtual appliances), value 1: its name and type (cached from the last listing).",
			"cluster_id", "cluster_name", lType),
		status: desc("managed_cluster_status",
			"The managed cluster's status as ISC states it (CONFIGURING, FAILED, NO_CLIENTS, NORMAL, WARNING), value 1 for the current one (cached from the last listing).",
			"cluster_id", "status"),
		operational: desc("managed_cluster_operational",
			"1 if ISC says the managed cluster is operational, 0 if not; absent when ISC does not say (cached from the last listing).",
			"cluster_id"),
	}
	inv := newInventory(&kind{
		what:    "managed clusters",
		capName: "the cap of " + strconv.Itoa(defaultMaxClusters),
		status: area.StatusDescs{
			Up: desc("managed_clusters_up",
				"1 if the last listing of managed clusters from ISC succeeded, 0 if it failed; the cluster metrics then keep their last known values."),
			LastSuccess: desc("managed_clusters_last_success_timestamp_seconds",
				"Unix time at which managed clusters were last listed from ISC."),
		},
		data: []*prometheus.Desc{d.info, d.status, d.operational},
		forbidden: "ISC refused to list managed clusters (HTTP 403): the token needs the scope " + client.ManagedClustersScope +
			" (sp:scopes:all includes it), which ISC grants to personal access tokens whose owner has the user level ORG_ADMIN, not to API clients; " +
			unaffected("cluster", "--managed-clusters.refresh-interval", "--no-collector.managed-clusters"),
		notFound: "ISC has no managed clusters list at the path the exporter uses on this tenant (HTTP 404; the error names the path, sailpoint_api_path_info shows it); " + unaffected("cluster", "--managed-clusters.refresh-interval", "--no-collector.managed-clusters"),
	}, opts, defaultMaxClusters)
	inv.fetch = func(ctx context.Context) ([]prometheus.Metric, int, error) {
		list, err := l.ListManagedClusters(ctx)
		if err != nil {
			return nil, 0, err
		}
		return d.metrics(list, inv.opts.Max), len(list), nil
	}
	return inv
}

// Label names shared with the activity metrics.
const (
	lSource = "source_id"
	lType   = "type"
)

// unaffected ends the line logged on a 403 or 404: what the refusal means
// for the metrics and what the exporter does next.
func unaffected(metrics, intervalFlag, offFlag string) string {
	return "the " + metrics + " metrics stay absent or at their last values, the activity metrics are not affected, " +
		"and the exporter tries again at " + intervalFlag + " (" + offFlag + " turns this off)"
}

// descs makes the descriptions of one inventory's metrics.
func descs(constLabels prometheus.Labels) func(name, help string, labels ...string) *prometheus.Desc {
	return func(name, help string, labels ...string) *prometheus.Desc {
		return prometheus.NewDesc("sailpoint_"+name, help, labels, constLabels)
	}
}

func newInventory(k *kind, opts Options, defaultMax int) *Inventory {
	if opts.Max <= 0 {
		opts.Max = defaultMax
	}
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	inv := &Inventory{kind: k, opts: opts, publisher: area.NewPublisher(k.status, k.data...)}
	inv.runner = area.NewRunner(inv.refresh)
	inv.publisher.Publish(inv.status, nil)
	return inv
}

// Describe implements prometheus.Collector.
func (inv *Inventory) Describe(ch chan<- *prometheus.Desc) { inv.publisher.Describe(ch) }

// Collect implements prometheus.Collector: the metrics of the last
// publication, as they were built.
func (inv *Inventory) Collect(ch chan<- prometheus.Metric) { inv.publisher.Collect(ch) }

// Runner runs the listings.
func (inv *Inventory) Runner() *area.Runner { return inv.runner }

// Refresh lists the collection from ISC and publishes what it said; a
// caller arriving while a listing runs shares that one. On failure the last
// listing's metrics are kept and the success gauge is 0.
func (inv *Inventory) Refresh(ctx context.Context) error { return inv.runner.Refresh(ctx) }

func (inv *Inventory) refresh(ctx context.Context) error {
	data, listed, err := inv.fetch(ctx)
	if err != nil && errors.Is(err, context.Canceled) && ctx.Err() != nil {
		return err // shutting down: nothing to say about ISC
	}
	inv.status.Up = err == nil
	if err != nil {
		inv.failed(err)
		inv.publisher.PublishStatus(inv.status)
		return err
	}
	inv.status.LastSuccess = inv.opts.Now()
	if listed > inv.opts.Max && !inv.capLogged {
		inv.capLogged = true
		inv.opts.Logger.Warn("ISC lists more "+inv.kind.what+" than "+inv.kind.capName+" allows; the metrics cover the first ones by id",
			"listed", listed, "reported", inv.opts.Max)
	}
	if failures, lasted := inv.failures.Recover(inv.opts.Now()); failures > 0 {
		inv.opts.Logger.Info("listing "+inv.kind.what+" from ISC works again", "failed_listings", failures, "failing_for", lasted.Round(time.Second))
	}
	inv.publisher.Publish(inv.status, data)
	return nil
}

// Run lists now and then every interval until ctx ends; a listing may take
// up to the interval, and at least a minute.
func (inv *Inventory) Run(ctx context.Context, interval time.Duration) {
	inv.runner.Run(ctx, area.Schedule{Interval: interval})
}

// failed says once that listings fail, with what to do; repeats of the same
// failure are logged at debug level.
func (inv *Inventory) failed(err error) {
	kind, attrs := client.FailureKind(err), outage.Attrs(err, inv.opts.Interval)
	if !inv.failures.FailLogged(inv.opts.Logger, inv.opts.Now(), kind, "listing "+inv.kind.what+" from ISC failed again", attrs...) {
		return
	}
	switch kind {
	case client.FailForbidden:
		inv.opts.Logger.Error(inv.kind.forbidden, attrs...)
	case client.FailNotFound:
		inv.opts.Logger.Error(inv.kind.notFound, attrs...)
	default:
		// At info level: ISC failing this way fails the activity refresh
		// too, and that one warning line is the outage's.
		inv.opts.Logger.Info("listing "+inv.kind.what+" from ISC failed; their metrics keep their last values, the activity metrics are not affected, and the exporter tries again at its interval", attrs...)
	}
}

type sourceDescs struct{ info, healthy, status, checked *prometheus.Desc }

// metrics builds the source metrics of the first max sources of list (sorted
// by id), one source per id as it reads once cut.
func (d *sourceDescs) metrics(list []client.Source, max int) []prometheus.Metric {
	var out []prometheus.Metric
	seen := map[string]bool{}
	for i := range list {
		s := &list[i]
		id := label.Of(s.ID)
		if seen[id] {
			continue
		}
		if len(seen) == max {
			break
		}
		seen[id] = true
		out = append(out,
			prometheus.MustNewConstMetric(d.info, prometheus.GaugeValue, 1,
				id, label.Of(s.Name), label.Of(s.Connector), label.Of(s.Type),
				strconv.FormatBool(s.Authoritative), label.Of(s.ClusterID)),
			prometheus.MustNewConstMetric(d.status, prometheus.GaugeValue, 1, id, label.Of(s.Status)))
		if s.Healthy != nil {
			out = append(out, prometheus.MustNewConstMetric(d.healthy, prometheus.GaugeValue, area.Bool(*s.Healthy), id))
		}
		if !s.Since.IsZero() {
			out = append(out, prometheus.MustNewConstMetric(d.checked, prometheus.GaugeValue, area.Seconds(s.Since), id))
		}
	}
	return out
}

type clusterDescs struct{ info, status, operational *prometheus.Desc }

func (d *clusterDescs) metrics(list []client.ManagedCluster, max int) []prometheus.Metric {
	var out []prometheus.Metric
	seen := map[string]bool{}
	for i := range list {
		c := &list[i]
		id := label.Of(c.ID)
		if seen[id] {
			continue
		}
		if len(seen) == max {
			break
		}
		seen[id] = true
		out = append(out,
			prometheus.MustNewConstMetric(d.info, prometheus.GaugeValue, 1, id, label.Of(c.Name), label.Of(c.Type)),
			prometheus.MustNewConstMetric(d.status, prometheus.GaugeValue, 1, id, label.Of(c.Status)))
		if c.Operational != nil {
			out = append(out, prometheus.MustNewConstMetric(d.operational, prometheus.GaugeValue, area.Bool(*c.Operational), id))
		}
	}
	return out
}
