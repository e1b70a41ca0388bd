// sailpoint_exporter's monitoring mixin: the rules of alerts/ and the
// dashboards of dashboards/, read from those files, with the _config of
// config.libsonnet applied. See README.md in this directory.
(import 'config.libsonnet') +
(import 'rules.libsonnet') +
(import 'dashboards.libsonnet')
