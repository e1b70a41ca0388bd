// The Grafana dashboards of dashboards/, imported from there (the single
// source), with _config applied: the selector joins every query and the job
// and instance variables, the SLO target the Provisioning dashboard's SLO row,
// the aggregation thresholds the colours of its aggregation panels.
local promql = import 'lib/promql.libsonnet';
local thresholds = import 'lib/thresholds.libsonnet';

local shipped = {
  'account-activities.json': import '../dashboards/account-activities.json',
  'exporter-health.json': import '../dashboards/exporter-health.json',
  'provisioning.json': import '../dashboards/provisioning.json',
};

// Every panel, rows' panels included.
local allPanels(ps) = std.flattenArrays([[p] + (if std.objectHas(p, 'panels') then allPanels(p.panels) else []) for p in ps]);

{
  local config = $._config,
  local steps = thresholds.panels(config),
  local stepsChanged = std.any([steps[t][0] != steps[t][1] for t in std.objectFields(steps)]),
  local changed = config.selector != '' || config.provisioningSLOTarget != 0.99 || stepsChanged,
  local expr(e) = promql.setSLOTarget(promql.addSelector(e, config.selector), config.provisioningSLOTarget),
  local target(t) = if std.objectHas(t, 'expr') then t { expr: expr(t.expr) } else t,
  local tuneSteps(p) =
    if std.objectHas(p, 'title') && std.objectHas(steps, p.title) && std.objectHas(p, 'fieldConfig') then
      p { fieldConfig: thresholds.replaceSteps(p.fieldConfig, steps[p.title][0], steps[p.title][1]) }
    else p,
  local panel(p) =
    tuneSteps(p)
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

  // Each panel whose thresholds _config sets is shipped once, with the
  // shipped value among its threshold steps.
  local shippedPanels = std.flattenArrays([allPanels(shipped[n].panels) for n in std.objectFields(shipped)]),
  assert std.all([
    std.length([p for p in shippedPanels if std.objectHas(p, 'title') && p.title == t && thresholds.countSteps(p.fieldConfig, steps[t][0]) > 0]) == 1
    for t in std.objectFields(steps)
  ]) : 'a panel of sailpoint-mixin/lib/thresholds.libsonnet is not in dashboards/ once with its shipped threshold',

  grafanaDashboards+:: { [name]: dashboard(shipped[name]) for name in std.objectFields(shipped) },
}
