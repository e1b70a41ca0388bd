package client

import "time"

// parseUTCMillis parses the form nearly all of ISC's date-times take,
// YYYY-MM-DDTHH:MM:SS[.fraction]Z, without allocating. It accepts a subset
// of what time.Time's UnmarshalJSON does (strict RFC 3339), which handles
// every other form.
func parseUTCMillis(b []byte) (time.Time, bool) {
	if len(b) < 20 || b[len(b)-1] != 'Z' || b[4] != '-' || b[7] != '-' || b[10] != 'T' || b[13] != ':' || b[16] != ':' {
		return time.Time{}, false
	}
	year, ok1 := digits(b[0:4])
	month, ok2 := digits(b[5:7])
	day, ok3 := digits(b[8:10])
	hour, ok4 := digits(b[11:13])
	minute, ok5 := digits(b[14:16])
	sec, ok6 := digits(b[17:19])
	if !ok1 || !ok2 || !ok3 || !ok4 || !ok5 || !ok6 || month < 1 || month > 12 || day < 1 || day > 31 || hour > 23 || minute > 59 || sec > 59 {
		return time.Time{}, false
	}
	nsec := 0
	rest := b[19 : len(b)-1]
	if len(rest) > 0 {
		if rest[0] != '.' || len(rest) < 2 || len(rest) > 10 {
			return time.Time{}, false
		}
		frac, ok := digits(rest[1:])
		if !ok {
			return time.Time{}, false
		}
		for i := len(rest) - 1; i < 9; i++ {
			frac *= 10
		}
		nsec = frac
	}
	t := time.Date(year, time.Month(month), day, hour, minute, sec, nsec, time.UTC)
	if t.Day() != day { // 2021-02-30 and the like: let the strict parser reject it
		return time.Time{}, false
	}
	return t, true
}

func digits(b []byte) (int, bool) {
	n := 0
	for _, c := range b {
		if c < '0' || c > '9' {
			return 0, false
		}
		n = n*10 + int(c-'0')
	}
	return n, true
}

// formatTimestamp writes t the way ISC's filters expect a date-time: UTC,
// unquoted, with milliseconds as ISC's own timestamps have them; a finer time
// keeps its digits, since truncating it would make the cursor's offset count
// from an earlier instant than the one it was counted at.
func formatTimestamp(t time.Time) string {
	if t.Nanosecond()%int(time.Millisecond) != 0 {
		return t.UTC().Format(time.RFC3339Nano)
	}
	return t.UTC().Format("2006-01-02T15:04:05.000Z07:00")
}
