package client

import (
	"strings"
	"testing"
)

// Elements that are JSON but not activities are rejected one by one, with
// their reason; their neighbours are kept.
func TestDecodeListRejectsElementsThatAreNotActivities(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name, element, reason, id string
	}{
		{"space instead of T", `{"id":"a","created":"2026-12-01 06:00:00","modified":"2026-12-01T06:00:00.000Z"}`, RejectInvalidTimestamp, "a"},
		{"epoch milliseconds", `{"id":"a","modified":1764568800000}`, RejectInvalidTimestamp, "a"},
		{"not a date", `{"id":"a","completed":"yesterday"}`, RejectInvalidTimestamp, "a"},
		{"the 30th of February", `{"id":"a","created":"2021-02-30T00:00:00.000Z"}`, RejectInvalidTimestamp, "a"},
		{"lower-case t", `{"id":"a","created":"2021-02-03t00:00:00.000Z"}`, RejectInvalidTimestamp, "a"},
		{"escaped timestamp", `{"id":"a","created":"2021-02-03T00:00:00.000\u005a"}`, RejectInvalidTimestamp, "a"},
		{"number for a string", `{"id":"a","type":5}`, RejectWrongType, "a"},
		{"object for a string", `{"id":"a","completionStatus":{"x":1}}`, RejectWrongType, "a"},
		{"string for errors", `{"id":"a","errors":"oops"}`, RejectWrongType, "a"},
		{"numbers in errors", `{"id":"a","warnings":[1]}`, RejectWrongType, "a"},
		{"object for items", `{"id":"a","items":{"not":"a list"}}`, RejectWrongType, "a"},
		{"string for an item", `{"id":"a","items":["x"]}`, RejectWrongType, "a"},
		{"number for an id", `{"id":7}`, RejectWrongType, ""},
		{"no id", `{"type":"appRequest"}`, RejectMissingID, ""},
		{"empty id", `{"id":""}`, RejectMissingID, ""},
		{"null element", `null`, RejectMissingID, ""},
		{"a number", `42`, RejectWrongType, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			body := `[{"id":"before"},` + tt.element + `,{"id":"after"}]`
			var res listResult
			if err := newPageDecoder().decodeList(strings.NewReader(body), -1, &res); err != nil {
				t.Fatal(err)
			}
			if len(res.activities) != 2 || res.activities[0].ID != "before" || res.activities[1].ID != "after" {
				t.Fatalf("neighbours %+v, want before and after", res.activities)
			}
			if len(res.rejected) != 1 || res.rejected[0].Reason != tt.reason || res.rejected[0].ID != tt.id || res.rejected[0].Key == "" {
				t.Fatalf("rejected %+v, want one %s with id %q", res.rejected, tt.reason, tt.id)
			}
			if len(res.modified) != 3 {
				t.Fatalf("%d positions for 3 elements", len(res.modified))
			}
		})
	}
}
