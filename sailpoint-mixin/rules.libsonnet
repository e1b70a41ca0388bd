// The recording and alerting rules of alerts/sailpoint.rules.yml, read from
// that file (the single source), with _config applied.
local promql = import 'lib/promql.libsonnet';
local thresholds = import 'lib/thresholds.libsonnet';
local shipped = std.parseYaml(importstr '../alerts/sailpoint.rules.yml');

{
  local config = $._config,
  local tuned = thresholds.rules(config),
  local tune(r) =
    if std.objectHas(r, 'alert') && std.objectHas(tuned, r.alert) then
      local t = tuned[r.alert];
      r {
        expr: thresholds.replace(r.expr, t.expr, r.alert + ' expr'),
        annotations+: { description: thresholds.replace(r.annotations.description, t.description, r.alert + ' description') },
      }
    else r,
  local rewriteRule(r0) =
    local r = tune(r0);
    r {
      expr: promql.setSLOTarget(promql.addSelector(r.expr, config.selector), config.provisioningSLOTarget),
    } + (
      if std.objectHas(r, 'alert') then {
        annotations+: { runbook_url: config.runbookURLPattern % std.asciiLower(r.alert) },
      } else {}
    ),
  local recordingOnly(g) = std.all([std.objectHas(r, 'record') for r in g.rules]),
  local rewrite(groups) = [g { rules: [rewriteRule(r) for r in g.rules] } for g in groups],
  local alertNames = std.flattenArrays([[r.alert for r in g.rules if std.objectHas(r, 'alert')] for g in shipped.groups]),
  assert std.all([std.member(alertNames, a) for a in std.objectFields(tuned)]) :
         'an alert of sailpoint-mixin/lib/thresholds.libsonnet is not in alerts/sailpoint.rules.yml',

  // Groups with at least one alert.
  prometheusAlerts+:: {
    groups+: rewrite([g for g in shipped.groups if !recordingOnly(g)]),
  },
  // Groups of recording rules only.
  prometheusRules+:: {
    groups+: rewrite([g for g in shipped.groups if recordingOnly(g)]),
  },
}
