// The Grafana dashboards of dashboards/, imported from there (the single
// source), with _config applied: the selector joins every query and the job
// and instance variables, the SLO target the Provisioning dashboard's SLO row.
local promql = import 'lib/promql.libsonnet';

local shipped = {
  'account-activities.json': import '../dashboards/account-activities.json',
  'exporter-health.json': import '../dashboards/exporter-health.json',
  'provisioning.json': import '../dashboards/provisioning.json',
};

{
  local config = $._config,
  local changed = config.selector != '' || config.provisioningSLOTarget != 0.99,
  local expr(e) = promql.setSLOTarget(promql.addSelector(e, config.selector), config.provisioningSLOTarget),
  local target(t) = if std.objectHas(t, 'expr') then t { expr: expr(t.expr) } else t,
  local panel(p) =
    p
    + (if std.objectHas(p, 'targets') then { targets: [target(t) for t in p.targets] } else {})
    + (if std.objectHas(p, 'panels') then { panels: [panel(q) for q in p.panels] } else {}),
  local variable(v) =
    if v.type != 'query' then v else
      v {
        definition: promql.addSelectorToLabelValues(v.definition, config.selector),
        query: if std.isObject(v.query)
        then v.query { query: promql.addSelectorToLabelValues(v.query.query, config.selector) }
        else promql.addSelectorToLabelValues(v.query, config.selector),
      },
  local dashboard(d) =
    if !changed then d else
      d {
        panels: [panel(p) for p in d.panels],
        templating+: { list: [variable(v) for v in d.templating.list] },
      },

  grafanaDashboards+:: { [name]: dashboard(shipped[name]) for name in std.objectFields(shipped) },
}
