// What users of the mixin override, e.g.
//   (import 'sailpoint-mixin/mixin.libsonnet') + { _config+:: { selector: 'job="sailpoint"' } }
{
  _config+:: {
    // PromQL label matchers added to every series selector of the rules and
    // dashboards, e.g. 'job="sailpoint"' or 'namespace="identity"'. Empty (the
    // default) keeps the shipped rules, which match every sailpoint_exporter
    // whatever its job name.
    selector: '',

    // Where each alert's runbook_url points: a printf pattern whose %s is the
    // alert name in lower case, which is the anchor of its section in
    // alerts/runbook.md. Point it at your own copy of the runbook if you keep one.
    runbookURLPattern: 'https://github.com/sailpoint-exporter/sailpoint_exporter/blob/main/alerts/runbook.md#%s',

    // The provisioning SLO: the share of provisioning items that must not fail
    // over 30 days (0.99 = 99%). The burn-rate alerts and the Provisioning
    // dashboard's SLO row use it.
    provisioningSLOTarget: 0.99,

    // Source aggregations. The window in which an aggregation that finished
    // ERROR or TERMINATED fires SailPointSourceAggregationFailed (a PromQL
    // duration such as '15m' or '1h'; also quoted in its description).
    aggregationFailureWindow: '15m',
    // Age in seconds of the oldest aggregation in progress past which
    // SailPointSourceAggregationStuck fires (after 15 minutes): 21600 = 6 hours.
    // The Provisioning dashboard's aggregation panels turn red there too.
    aggregationStuckSeconds: 21600,
    // Seconds without a SUCCESS or WARNING aggregation of a source and type
    // after which SailPointSourceAggregationMissing fires: 93600 = 26 hours, a
    // daily schedule and two hours. The dashboard's last-success table turns
    // red there too.
    aggregationMissingSeconds: 93600,
  },
}
