package client

import (
	"bytes"
	"encoding/json"
	"errors"
	"strings"
	"testing"
	"time"
)

// jsonActivity is the struct encoding/json decodes an activity into, for the
// differential fuzz test: the fields the exporter reads, with the spec's types.
type jsonActivity struct {
	ID               *string    `json:"id"`
	Type             *string    `json:"type"`
	CompletionStatus *string    `json:"completionStatus"`
	ExecutionStatus  *string    `json:"executionStatus"`
	Created          *time.Time `json:"created"`
	Modified         *time.Time `json:"modified"`
	Completed        *time.Time `json:"completed"`
	Errors           []string   `json:"errors"`
	Warnings         []string   `json:"warnings"`
	Items            []struct {
		ProvisioningStatus *string `json:"provisioningStatus"`
		Operation          *string `json:"operation"`
		SourceID           *string `json:"sourceId"`
	} `json:"items"`
}

// activity is what the decoder should make of an element encoding/json
// decoded into ja.
func (ja *jsonActivity) activity() Activity {
	a := Activity{ID: deref(ja.ID), Type: deref(ja.Type), CompletionStatus: deref(ja.CompletionStatus), ExecutionStatus: deref(ja.ExecutionStatus),
		Created: deref(ja.Created), Modified: deref(ja.Modified), Completed: deref(ja.Completed), Errors: len(ja.Errors), Warnings: len(ja.Warnings)}
	for _, it := range ja.Items {
		a.Items = append(a.Items, Item{ProvisioningStatus: deref(it.ProvisioningStatus), Operation: deref(it.Operation), SourceID: deref(it.SourceID)})
	}
	return a
}

func deref[T any](p *T) T {
	var zero T
	if p == nil {
		return zero
	}
	return *p
}

// FuzzDecodeAgainstEncodingJSON: for any input, the decoder accepts a page
// exactly when encoding/json does; it takes exactly the elements that
// encoding/json decodes into jsonActivity without error and with an id; and
// every field it keeps equals encoding/json's.
func FuzzDecodeAgainstEncodingJSON(f *testing.F) {
	for _, seed := range []string{
		specExample, `[]`, `null`, `[null]`, `{}`, `"x"`, `[{"id":"a\u00e9\ud83d\ude00","items":[{}]}]`,
		`[{"x":[1,-2.5e3,true,false,null,{"y":"\\"}]}]`, `[{"id":`, `[{"id":"a","type":"\q"}]`,
		`[{"id":"a","name":"\u12"}]`, "[{\"id\":\"a\tb\"}]", "[{\"id\":\"\xff\"}]",
		`[{"id":"a","created":"2026-12-01 06:00:00"}]`, `[{"id":"a","modified":1764568800000}]`,
		`[{"Id":"a","ID":"b","ſtems":[]}]`, `[{"id":"a","items":[{"operation":"X"}],"items":[{"sourceId":"s"}]}]`,
		`[{"id":"a","items":[{"operation":"X"}],"items":[null]}]`, `[{"id":"a","created":"2026-12-01T06:00:00.1234567891Z"}]`,
		`[{"id":"a","created":"2026-12-01T06:00:00+24:00"}]`, `[{"id":"a","errors":[null,"x"]}]`,
	} {
		f.Add([]byte(seed))
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		var res listResult
		err := newPageDecoder().decodeList(bytes.NewReader(body), int64(len(body)), &res)
		var raw []json.RawMessage
		refErr := json.Unmarshal(body, &raw)
		if (err != nil) != (refErr != nil) {
			t.Fatalf("decoder: %v; encoding/json: %v\n%q", err, refErr, body)
		}
		if err != nil {
			return
		}
		if len(res.modified) != len(raw) {
			t.Fatalf("%d elements, encoding/json %d", len(res.modified), len(raw))
		}
		k := 0
		for i, el := range raw {
			var ja jsonActivity
			accepted := json.Unmarshal(el, &ja) == nil && deref(ja.ID) != ""
			if !accepted {
				continue
			}
			if k >= len(res.activities) {
				t.Fatalf("element %d rejected, encoding/json takes it: %s (rejected: %+v)", i, el, res.rejected)
			}
			got := res.activities[k]
			k++
			assertActivity(t, got, ja.activity())
		}
		if k != len(res.activities) {
			t.Fatalf("%d activities taken, encoding/json takes %d (%q)", len(res.activities), k, body)
		}
		if len(res.activities)+len(res.rejected) != len(raw) {
			t.Fatalf("%d taken and %d rejected of %d elements", len(res.activities), len(res.rejected), len(raw))
		}
	})
}

// FuzzDecodeOneAgainstEncodingJSON holds decodeOne, which reads the answer
// of Get, to encoding/json: it accepts a body exactly when encoding/json
// decodes it into jsonActivity without error (an activity without an id
// included: Get asked for one by id), and every field equals encoding/json's.
// The decoder first decodes a page, as a pooled one shared with Scan has.
func FuzzDecodeOneAgainstEncodingJSON(f *testing.F) {
	one := strings.TrimSuffix(strings.TrimPrefix(specExample, "["), "]")
	for _, seed := range []string{
		one, one + " ", one + "x", one + one, specExample, `{}`, `null`, `[]`, `"x"`, `5`, ``, ` `, `{`, `{"id":"a"`,
		`{"id":"a\u00e9\ud83d\ude00","items":[{}]}`, `{"id":7}`, `{"id":"a","type":"\q"}`, "{\"id\":\"a\tb\"}",
		"{\"id\":\"\xff\"}", `{"id":"a","created":"2026-12-01 06:00:00"}`, `{"id":"a","modified":1764568800000}`,
		`{"Id":"a","ID":"b","ſtems":[],"ITEMS":[{"SOURCEID":"s"}]}`, `{"id":"a","items":[{"operation":"X"}],"items":[null]}`,
		`{"id":"a","items":[{"operation":"X"},{"operation":"Y"}],"items":[{"sourceId":"s"}]}`,
		`{"id":"a","completed":"2026-12-01T06:00:00+24:00"}`, `{"id":"a","errors":[null,"x"],"warnings":"w"}`,
		`{"id":"a","type":"t","type":null,"created":"2026-12-01T06:00:00Z","created":null}`,
		`{"id":"a","x":` + strings.Repeat("[", 9999) + strings.Repeat("]", 9999) + `}`,
		`{"id":"a","x":` + strings.Repeat("[", 10000) + strings.Repeat("]", 10000) + `}`,
	} {
		f.Add([]byte(seed))
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		d := newPageDecoder()
		var res listResult
		if err := d.decodeList(strings.NewReader(specExample), -1, &res); err != nil {
			t.Fatal(err)
		}
		got, err := d.decodeOne(bytes.NewReader(body), int64(len(body)))
		var ja jsonActivity
		refErr := json.Unmarshal(body, &ja)
		if (err != nil) != (refErr != nil) {
			t.Fatalf("decoder: %v; encoding/json: %v\n%q", err, refErr, body)
		}
		if err != nil {
			var de *DecodeError
			if !errors.As(err, &de) {
				t.Fatalf("error %v is not a *DecodeError", err)
			}
			return
		}
		assertActivity(t, got, ja.activity())
	})
}
