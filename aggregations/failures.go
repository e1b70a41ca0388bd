package aggregations

import (
	"github.com/sailpoint-exporter/sailpoint_exporter/client"
	"github.com/sailpoint-exporter/sailpoint_exporter/outage"
)

// failed says a failed read once per outage, with what to check; repeats
// of the same kind are logged at debug level.
func (r *Refresher) failed(err error) {
	kind, attrs := client.FailureKind(err), outage.Attrs(err, r.opts.Interval)
	if !r.failures.FailLogged(r.opts.Logger, r.opts.Now(), kind, "reading ISC's task status failed again", attrs...) {
		return
	}
	const unaffected = "sailpoint_aggregations_up is 0, the aggregation metrics keep their last values, the activity metrics are not affected, " +
		"and the exporter tries again at --aggregations.refresh-interval (0 turns this off)"
	switch kind {
	case client.FailForbidden:
		r.opts.Logger.Error("ISC refused to list task status (HTTP 403): the token needs the scope "+client.TaskStatusScope+
			" (sp:scopes:all includes it for an owner of the user level ORG_ADMIN, SOURCE_ADMIN, SOURCE_SUBADMIN, HELPDESK, ROLE_ADMIN, ROLE_SUBADMIN, CERT_ADMIN or REPORT_ADMIN); "+unaffected, attrs...)
	case client.FailNotFound:
		r.opts.Logger.Error("ISC has no task status list at this path on this tenant (HTTP 404); "+unaffected, attrs...)
	case client.FailBadRequest:
		r.opts.Logger.Error("ISC refused the exporter's task status request (HTTP 400); its message says why; "+unaffected, attrs...)
	case client.FailCredentials:
		// The activity refresh says it too, with what to check.
		r.opts.Logger.Info("reading ISC's task status failed on credentials ISC refused (the activities' line says what to check); "+unaffected, attrs...)
	default:
		// At info level: ISC failing this way fails the activity refresh
		// too, and that one warning line is the outage's.
		r.opts.Logger.Info("reading ISC's task status failed; "+unaffected, attrs...)
	}
}
