package area

import "time"

// UnixMilli is t in unix milliseconds, ISC's precision; 0 for the zero time
// (ISC sent null).
func UnixMilli(t time.Time) int64 {
	if t.IsZero() {
		return 0
	}
	return t.UnixMilli()
}

// FirstNonZero is the first of vs that is not 0.
func FirstNonZero(vs ...int64) int64 {
	for _, v := range vs {
		if v != 0 {
			return v
		}
	}
	return 0
}
