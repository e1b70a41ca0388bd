package client

import (
	"errors"
	"io"
	"strings"
	"testing"
	"time"
)

// specExample is the AccountActivity example of ISC's OpenAPI spec, with an
// item per field the exporter reads.
const specExample = `[{
  "id": "2c9180835d2e5168015d32f890ca1581",
  "name": "2c9180835d2e5168015d32f890ca1581",
  "created": "2017-07-11T18:45:37.098Z",
  "modified": "2018-06-25T20:22:28.104Z",
  "completed": "2018-10-19T13:49:37.385Z",
  "completionStatus": "SUCCESS",
  "type": "appRequest",
  "requesterIdentitySummary": {"id": "ff80818155fe8c080155fe8d925b0316", "name": "SailPoint Services", "identityId": "c15b9f5cca5a4e9599eaa0e64fa921bd", "completed": true},
  "targetIdentitySummary": null,
  "errors": ["sailpoint.connector.ConnectorException: java.lang.InterruptedException: Timeout waiting for response to message 0 from client 57a4ab97-ab3f-4aef-9fe2-0eaf15c73d26 after 60 seconds."],
  "warnings": ["Some warning, another warning"],
  "items": [{
    "id": "48c545831b264409a81befcabb0e3c5a",
    "name": "48c545831b264409a81befcabb0e3c5a",
    "requested": "2017-07-11T18:45:37.098Z",
    "approvalStatus": "PENDING",
    "provisioningStatus": "COMMITED",
    "requesterComment": {"commenterId": "2c918084660f45d6016617daa9210584", "commenterName": "Adam Kennedy", "body": "Et quam massa maximus vivamus nisi ut urna tincidunt metus elementum erat.", "date": "2017-07-11T18:45:37.098Z"},
    "reviewerIdentitySummary": null,
    "reviewerComment": null,
    "operation": "ADD",
    "attribute": "detectedRoles",
    "value": "Treasury Analyst [AccessProfile-1529010191212]",
    "nativeIdentity": "Sandie.Camero",
    "sourceId": "2c91808363ef85290164000587130c0c",
    "accountRequestInfo": {"requestedObjectId": "2c91808563ef85690164001c31140c0c", "requestedObjectName": "Treasury Analyst", "requestedObjectType": "ACCESS_PROFILE"},
    "clientMetadata": {"customKey1": "custom value 1", "customKey2": "custom value 2"},
    "removeDate": "2020-07-11T00:00:00Z"
  }],
  "executionStatus": "COMPLETED",
  "clientMetadata": {"customKey1": "custom value 1", "customKey2": "custom value 2"}
}]`

func ms(s string) time.Time {
	t, err := time.Parse(time.RFC3339Nano, s)
	if err != nil {
		panic(err)
	}
	return t
}

func TestDecodeList(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		body string
		want []Activity
	}{
		{
			name: "spec example",
			body: specExample,
			want: []Activity{{
				ID: "2c9180835d2e5168015d32f890ca1581", Type: "appRequest",
				CompletionStatus: "SUCCESS", ExecutionStatus: "COMPLETED",
				Created: ms("2017-07-11T18:45:37.098Z"), Modified: ms("2018-06-25T20:22:28.104Z"), Completed: ms("2018-10-19T13:49:37.385Z"),
				Errors: 1, Warnings: 1,
				Items: []Item{{ProvisioningStatus: "COMMITED", Operation: "ADD", SourceID: "2c91808363ef85290164000587130c0c"}},
			}},
		},
		{
			name: "nulls wherever the spec allows them",
			body: `[{"id":"a","type":null,"completionStatus":null,"executionStatus":"EXECUTING","created":"2026-01-02T03:04:05.006Z","modified":null,"completed":null,"errors":null,"warnings":null,"items":null,"clientMetadata":null}]`,
			want: []Activity{{ID: "a", ExecutionStatus: "EXECUTING", Created: ms("2026-01-02T03:04:05.006Z")}},
		},
		{
			name: "absent fields and null items",
			body: `[{"id":"b","items":[null,{"operation":null,"provisioningStatus":"PENDING"}]}]`,
			want: []Activity{{ID: "b", Items: []Item{{}, {ProvisioningStatus: "PENDING"}}}}, // a null item is an item, as encoding/json decodes it
		},
		{
			name: "unknown enum values and fields are kept and ignored",
			body: `[{"id":"c","type":"Some Future Type","executionStatus":"PAUSED","completionStatus":"CANCELLED","cancelable":true,"cancelComment":{"body":"x"},"newField":[1,{"a":null}],"items":[{"provisioningStatus":"QUEUED","operation":"RESET","sourceId":"s1","extra":{}}]}]`,
			want: []Activity{{ID: "c", Type: "Some Future Type", ExecutionStatus: "PAUSED", CompletionStatus: "CANCELLED",
				Items: []Item{{ProvisioningStatus: "QUEUED", Operation: "RESET", SourceID: "s1"}}}},
		},
		{
			name: "field names match without regard to case, the last one wins",
			body: `[{"ID":"x","id":"d","TYPE":"appRequest","Items":[{"SourceID":"s1","sourceid":"s2"}],"ſtems":null}]`,
			want: []Activity{{ID: "d", Type: "appRequest", Items: []Item{{SourceID: "s2"}}}},
		},
		{
			name: "a repeated items array decodes over the first, as encoding/json does",
			body: `[{"id":"d2","items":[{"operation":"ADD"},{"operation":"REMOVE"}],"items":[{"sourceId":"s"}]}]`,
			want: []Activity{{ID: "d2", Items: []Item{{Operation: "ADD", SourceID: "s"}}}},
		},
		{
			name: "escaped strings are unquoted",
			body: `[{"id":"e","type":"Identity\u0020Refresh","items":[{"sourceId":"s\"1\\"}]}]`,
			want: []Activity{{ID: "e", Type: "Identity Refresh", Items: []Item{{SourceID: `s"1\`}}}},
		},
		{
			name: "timestamps in other RFC 3339 forms",
			body: `[{"id":"f","created":"2026-01-02T03:04:05Z","modified":"2026-01-02T05:04:05.123456+02:00","completed":null}]`,
			want: []Activity{{ID: "f", Created: ms("2026-01-02T03:04:05Z"), Modified: ms("2026-01-02T03:04:05.123456Z")}},
		},
		{
			name: "invalid UTF-8 in an unread field costs nothing",
			body: "[{\"id\":\"g\",\"name\":\"\xff\xfe\",\"type\":\"appRequest\"}]",
			want: []Activity{{ID: "g", Type: "appRequest"}},
		},
		{
			name: "invalid UTF-8 in a label is replaced byte by byte, as encoding/json does",
			body: "[{\"id\":\"g2\",\"type\":\"a\xff\xfeb\"}]",
			want: []Activity{{ID: "g2", Type: "a\uFFFD\uFFFDb"}},
		},
		{
			name: "a null item is an item without fields",
			body: `[{"id":"h","items":[null,{"operation":"ADD"}]}]`,
			want: []Activity{{ID: "h", Items: []Item{{}, {Operation: "ADD"}}}},
		},
		{name: "empty page", body: `[]`, want: nil},
		{name: "null page", body: `null`, want: nil},
		{name: "nesting as deep as encoding/json allows", body: `[{"id":"i","x":` + strings.Repeat("[", 9998) + strings.Repeat("]", 9998) + `}]`, want: []Activity{{ID: "i"}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			got, rejected, err := decode(tt.body)
			if err != nil || len(rejected) != 0 {
				t.Fatalf("decodeList: %v, rejected %+v", err, rejected)
			}
			if len(got) != len(tt.want) {
				t.Fatalf("got %d activities, want %d: %+v", len(got), len(tt.want), got)
			}
			for i := range got {
				assertActivity(t, got[i], tt.want[i])
			}
		})
	}
}

// decode decodes one page with a fresh decoder.
func decode(body string) ([]Activity, []Rejection, error) {
	var res listResult
	err := newPageDecoder().decodeList(strings.NewReader(body), int64(len(body)), &res)
	return res.activities, res.rejected, err
}

func assertActivity(t *testing.T, got, want Activity) {
	t.Helper()
	if got.ID != want.ID || got.Type != want.Type || got.CompletionStatus != want.CompletionStatus ||
		got.ExecutionStatus != want.ExecutionStatus || !got.Created.Equal(want.Created) ||
		!got.Modified.Equal(want.Modified) || !got.Completed.Equal(want.Completed) ||
		got.Errors != want.Errors || got.Warnings != want.Warnings || len(got.Items) != len(want.Items) {
		t.Fatalf("got  %+v\nwant %+v", got, want)
	}
	for i := range got.Items {
		if got.Items[i] != want.Items[i] {
			t.Fatalf("item %d: got %+v, want %+v", i, got.Items[i], want.Items[i])
		}
	}
}

func TestDecodeListRejectsMalformedBodies(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		body string
		want error // also matched with errors.Is, beyond *DecodeError
	}{
		{"truncated in an object", `[{"id":"a","type":"appRe`, io.ErrUnexpectedEOF},
		{"truncated between activities", `[{"id":"a"},`, io.ErrUnexpectedEOF},
		{"empty body", ``, io.ErrUnexpectedEOF},
		{"an object, not a list", `{"detailCode":"500.0 Internal Fault"}`, nil},
		{"garbage", `<html>Bad Gateway</html>`, nil},
		{"trailing data", `[] []`, nil},
		{"broken syntax", `[{"id":"a",,}]`, nil},
		{"trailing comma", `[{"id":"a"},]`, nil},
		{"invalid escape in a field it reads", `[{"id":"a","type":"\q"}]`, nil},
		{"invalid escape in a field it skips", `[{"id":"a","name":"\q"}]`, nil},
		{"short unicode escape", `[{"id":"a","name":"\u12"}]`, nil},
		{"raw control character in a skipped string", "[{\"id\":\"a\",\"name\":\"tab\there\"}]", nil},
		{"raw control character in a read string", "[{\"id\":\"a\nb\"}]", nil},
		{"nesting deeper than encoding/json allows", `[{"id":"a","x":` + strings.Repeat("[", 10000) + strings.Repeat("]", 10000) + `}]`, nil},
		{"a byte order mark", "\ufeff[]", nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			_, _, err := decode(tt.body)
			var de *DecodeError
			if !errors.As(err, &de) {
				t.Fatalf("got %v, want a *DecodeError", err)
			}
			if tt.want != nil && !errors.Is(err, tt.want) {
				t.Fatalf("got %v, want it to match %v", err, tt.want)
			}
			if !strings.Contains(err.Error(), "malformed account activity JSON at byte") {
				t.Fatalf("error %q does not say what is wrong", err)
			}
		})
	}
}

// A decoder reuses its storage page after page; a previous page's items
// must not leak into the next.
func TestDecodeListReusesStorageSafely(t *testing.T) {
	t.Parallel()
	d := newPageDecoder()
	var res listResult
	if err := d.decodeList(strings.NewReader(`[{"id":"a","items":[{"sourceId":"s1"},{"sourceId":"s2"}]},{"id":"b","items":[{"sourceId":"s3"}]}]`), -1, &res); err != nil {
		t.Fatal(err)
	}
	if err := d.decodeList(strings.NewReader(`[{"id":"c","items":null},{"id":"d","items":[{"sourceId":"s4"}]},{"id":"e","items":[{}]}]`), -1, &res); err != nil {
		t.Fatal(err)
	}
	assertActivity(t, res.activities[0], Activity{ID: "c"})
	assertActivity(t, res.activities[1], Activity{ID: "d", Items: []Item{{SourceID: "s4"}}})
	assertActivity(t, res.activities[2], Activity{ID: "e", Items: []Item{{}}})
}

// An answer larger than the bound is refused without keeping its buffer.
func TestDecodeListBoundsTheBody(t *testing.T) {
	t.Parallel()
	d := newPageDecoder()
	var res listResult
	err := d.decodeList(strings.NewReader("[]"), maxBody+1, &res)
	var de *DecodeError
	if !errors.As(err, &de) || de.Reason != RejectTooLarge || !de.Complete {
		t.Fatalf("announced oversize: %v", err)
	}
	// Unannounced: read up to the bound, then refused; the buffer is dropped.
	big := io.MultiReader(strings.NewReader("["), repeated(`"x",`, maxBody/4), strings.NewReader(`"x"]`))
	err = d.decodeList(big, -1, &res)
	if !errors.As(err, &de) || de.Reason != RejectTooLarge {
		t.Fatalf("unannounced oversize: %v", err)
	}
	if cap(d.body) > keepBuffer || d.buf != nil {
		t.Fatalf("the decoder keeps %d bytes after an oversized answer", cap(d.body)+cap(d.buf))
	}
}
