// The recording and alerting rules of alerts/sailpoint.rules.yml, read from
// that file (the single source), with _config applied.
local promql = import 'lib/promql.libsonnet';
local shipped = std.parseYaml(importstr '../alerts/sailpoint.rules.yml');

{
  local config = $._config,
  local rewriteRule(r) =
    r {
      expr: promql.setSLOTarget(promql.addSelector(r.expr, config.selector), config.provisioningSLOTarget),
    } + (
      if std.objectHas(r, 'alert') then {
        annotations+: { runbook_url: config.runbookURLPattern % std.asciiLower(r.alert) },
      } else {}
    ),
  local recordingOnly(g) = std.all([std.objectHas(r, 'record') for r in g.rules]),
  local rewrite(groups) = [g { rules: [rewriteRule(r) for r in g.rules] } for g in groups],

  // Groups with at least one alert.
  prometheusAlerts+:: {
    groups+: rewrite([g for g in shipped.groups if !recordingOnly(g)]),
  },
  // Groups of recording rules only.
  prometheusRules+:: {
    groups+: rewrite([g for g in shipped.groups if recordingOnly(g)]),
  },
}
