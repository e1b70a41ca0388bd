// The thresholds of the aggregation alerts that _config sets, as
// alerts/sailpoint.rules.yml and dashboards/provisioning.json write their
// shipped values. Each replaced text must occur exactly once where it is
// replaced, so that a change of the shipped files that would leave a
// setting without effect fails the evaluation instead.
local isDigit(c) = c >= '0' && c <= '9';
local units = 'smhdwy';

local checkWindow(w) =
  assert std.isString(w) && std.length(w) > 0 && isDigit(w[0]) && std.member(units, w[std.length(w) - 1])
         && std.all([isDigit(c) || std.member(units, c) for c in std.stringChars(w)]) :
         'aggregationFailureWindow must be a PromQL duration such as 15m or 1h, got ' + std.toString(w);
  w;

local checkSeconds(name, v) =
  assert std.isNumber(v) && v > 0 : name + ' must be a number of seconds above 0, got ' + std.toString(v);
  v;

{
  // rules returns, per alert, the [shipped, configured] text pairs of its
  // expr and of its description.
  rules(config):: {
    local window = checkWindow(config.aggregationFailureWindow),
    local stuck = checkSeconds('aggregationStuckSeconds', config.aggregationStuckSeconds),
    local missing = checkSeconds('aggregationMissingSeconds', config.aggregationMissingSeconds),
    SailPointSourceAggregationFailed: {
      expr: [['[15m]', '[' + window + ']']],
      description: [['in the last 15 minutes', if window == '15m' then 'in the last 15 minutes' else 'in the last ' + window]],
    },
    SailPointSourceAggregationStuck: {
      expr: [['> 21600', '> ' + std.toString(stuck)]],
      description: [],
    },
    SailPointSourceAggregationMissing: {
      expr: [['> 93600', '> ' + std.toString(missing)]],
      description: [],
    },
  },

  // panels returns, per dashboard panel title, the [shipped, configured]
  // threshold step values of its field config.
  panels(config):: {
    local stuck = checkSeconds('aggregationStuckSeconds', config.aggregationStuckSeconds),
    local missing = checkSeconds('aggregationMissingSeconds', config.aggregationMissingSeconds),
    'Last successful aggregation by source': [93600, missing],
    'Oldest aggregation in progress by source': [21600, stuck],
    'Aggregation duration by type (p50, p95)': [21600, stuck],
  },

  // replace replaces each pair's first text by its second in text, where
  // the first occurs exactly once.
  replace(text, pairs, what)::
    std.foldl(
      function(t, p)
        assert std.length(std.findSubstr(p[0], t)) == 1 :
               what + ': the shipped text ' + std.toString(p[0]) + ' is not there exactly once; update sailpoint-mixin/lib/thresholds.libsonnet';
        std.strReplace(t, p[0], p[1]),
      pairs,
      text
    ),

  // replaceSteps sets every threshold step of value from, anywhere in x
  // (defaults and overrides), to to; it reports how many it set in n.
  replaceSteps(x, from, to)::
    local walk(v) =
      if std.isObject(v) then
        {
          [k]:
            if k == 'steps' && std.isArray(v[k]) then
              [if std.isObject(s) && std.objectHas(s, 'value') && s.value == from then s { value: to } else s for s in v[k]]
            else walk(v[k])
          for k in std.objectFields(v)
        }
      else if std.isArray(v) then [walk(e) for e in v]
      else v;
    walk(x),

  // countSteps counts the threshold steps of value from anywhere in x.
  countSteps(x, from)::
    local count(v) =
      if std.isObject(v) then
        std.foldl(function(n, k) n + (
          if k == 'steps' && std.isArray(v[k]) then
            std.length([s for s in v[k] if std.isObject(s) && std.objectHas(s, 'value') && s.value == from])
          else count(v[k])
        ), std.objectFields(v), 0)
      else if std.isArray(v) then std.foldl(function(n, e) n + count(e), v, 0)
      else 0;
    count(x),
}
