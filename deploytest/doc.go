// Package deploytest tests what sailpoint_exporter ships for deployment, offline: the Helm
// chart in charts/sailpoint-exporter and the monitoring mixin in sailpoint-mixin. It is a
// module of its own, so that Helm, the Kubernetes API types, the Prometheus Operator's types
// and go-jsonnet stay out of the exporter's go.mod.
//
// The chart is rendered with Helm's own engine for every values file in the chart's ci/
// directory (and a few variants), every object is decoded strictly into its typed struct, and
// the facts a deployment relies on are asserted; helm lint runs on every values file. With
// several tenants, the exporter built from the repository checks the rendered configuration
// file with the container's arguments and environment (--config.check). The mixin is
// evaluated with go-jsonnet and compared with alerts/ and dashboards/.
//
//	cd deploytest && go test ./...
package deploytest
