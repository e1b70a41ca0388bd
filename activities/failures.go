package activities

import (
	"github.com/sailpoint-exporter/sailpoint_exporter/client"
)

// failed says a failed refresh once per outage, with what to check: an
// outage of an hour at one refresh a minute is two log lines, not sixty.
// Repeats are logged at debug level. When the watchdog already said that
// ISC stopped answering, only another kind of failure is loud.
func (r *Refresher) failed(err error) {
	kind := client.FailureKind(err)
	if r.announced.Load() {
		r.failures.SaidElsewhere(client.FailOther)
	}
	if !r.failures.FailLogged(r.opts.Logger, r.opts.Now(), kind, "refresh from ISC failed again", "err", err) {
		return
	}
	switch kind {
	case client.FailCredentials:
		r.opts.Logger.Error("ISC refused the exporter's credentials: check the client id and secret it was given "+
			"(SAIL_CLIENT_ID, SAIL_CLIENT_SECRET or --isc.client-secret-file), whether the personal access token was revoked or its owner disabled, "+
			"and that it has the scope "+client.ActivitiesScope+", which the account activities API requires; metrics keep their last values",
			"err", err)
	case client.FailForbidden:
		r.opts.Logger.Error("ISC accepted the token but refused to list account activities (HTTP 403): the token needs the scope "+
			client.ActivitiesScope+" and an owner allowed to read all account activities (an admin); metrics keep their last values",
			"err", err)
	default:
		r.opts.Logger.Warn("refresh from ISC failed; metrics keep their last values and the exporter keeps trying", "err", err)
	}
}
