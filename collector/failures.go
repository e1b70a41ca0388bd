package collector

import (
	"errors"
	"log/slog"
	"time"

	"github.com/sailpoint-exporter/sailpoint_exporter/client"
)

// failureLog says once that refreshes fail, and once that they work again:
// an outage of an hour at one refresh a minute is two log lines, not sixty.
// Repeats are logged at debug level.
type failureLog struct {
	since  time.Time // first failure of the current streak; zero when none
	count  int
	lastOf string // kind of the last failure logged above debug level
}

// Kinds of failure that need different advice.
const (
	kindCredentials = "credentials"
	kindForbidden   = "forbidden"
	kindOther       = "other"
)

func failureKind(err error) string {
	switch {
	case errors.Is(err, client.ErrUnauthorized):
		return kindCredentials
	case errors.Is(err, client.ErrForbidden):
		return kindForbidden
	}
	return kindOther
}

// failed logs a failed refresh; announced says that the outage was already
// said (by the watchdog), so that only another kind of failure is loud.
func (f *failureLog) failed(logger *slog.Logger, now time.Time, err error, announced bool) {
	kind := failureKind(err)
	if f.count == 0 {
		f.since = now
		if announced {
			f.lastOf = kindOther
		}
	}
	f.count++
	if (f.count > 1 || announced) && kind == f.lastOf {
		logger.Debug("refresh from ISC failed again", "failures", f.count, "since", f.since, "err", err)
		return
	}
	f.lastOf = kind
	switch kind {
	case kindCredentials:
		logger.Error("ISC refused the exporter's credentials: check the client id and secret it was given "+
			"(SAIL_CLIENT_ID, SAIL_CLIENT_SECRET or --isc.client-secret-file), whether the personal access token was revoked or its owner disabled, "+
			"and that it has the scope "+client.ActivitiesScope+", which the account activities API requires; metrics keep their last values",
			"err", err)
	case kindForbidden:
		logger.Error("ISC accepted the token but refused to list account activities (HTTP 403): the token needs the scope "+
			client.ActivitiesScope+" and an owner allowed to read all account activities (an admin); metrics keep their last values",
			"err", err)
	default:
		logger.Warn("refresh from ISC failed; metrics keep their last values and the exporter keeps trying", "err", err)
	}
}

func (f *failureLog) succeeded(logger *slog.Logger, now time.Time) {
	if f.count == 0 {
		return
	}
	logger.Info("refresh from ISC succeeded again", "failed_refreshes", f.count, "failing_for", now.Sub(f.since).Round(time.Second))
	*f = failureLog{}
}
