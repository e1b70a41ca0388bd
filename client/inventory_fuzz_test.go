package client

import (
	"bytes"
	"encoding/json"
	"reflect"
	"strings"
	"testing"
)

// FuzzDecodeArrayAgainstEncodingJSON holds decodeArray, which reads the
// pages of GET /v3/sources and /v3/managed-clusters one element at a time,
// to json.Unmarshal of the whole page into []wireSource and []wireCluster:
// it accepts a page exactly when encoding/json does, but for null (an
// error, not an empty list: see decodeArray), and every record it returns
// equals encoding/json's.
func FuzzDecodeArrayAgainstEncodingJSON(f *testing.F) {
	for _, seed := range []string{
		`[{"id":"2c9180835d191a86015d28455b4a2329","name":"My Source","description":"This is the corporate directory.",
		  "owner":{"type":"IDENTITY","id":"2c91808568c529c60168cca6f90c1313","name":"MyName"},
		  "cluster":{"type":"CLUSTER","id":"2c9180866166b5b0016167c32ef31a66","name":"Corporate Cluster"},
		  "type":"Active Directory - Direct","connector":"active-directory","authoritative":false,"healthy":true,
		  "status":"SOURCE_STATE_HEALTHY","since":"2021-09-28T15:48:29.3801666300Z","connectorAttributes":{"healthCheckTimeout":30}}]`,
		`[{"id":"2c9180887de347cf017de8ec178d0008","name":"Managed Cluster Name","pod":"megapod-useast1","org":"denali",
		  "type":"idn","configuration":{"clusterExternalId":"2c9180887de347cf017de8ec178d0008"},
		  "keyPair":{"publicKey":"-----BEGIN PUBLIC KEY-----******-----END PUBLIC KEY-----"},
		  "attributes":{"queue":{"name":"megapod-useast1-denali-lwt-cluster-1533","region":"us-east-1"}},
		  "status":"NORMAL","operational":false,"alertKey":"LIMITED_RESOURCES","clientIds":["1244","1245"]}]`,
		`[]`, `[null]`, `{}`, `"x"`, `5`, ``, ` `, `[`, `[] []`, `[],`, `[{}] `, `[{},]`, `[,{}]`, `[{} {}]`,
		`[{"id":"a","healthy":"yes"}]`, `[{"id":"a","name":,"healthy":true}]`, `[{"id":7}]`, `[1]`, `[[]]`,
		`[{"cluster":null},{"cluster":{"id":"c"}},{"cluster":{"id":"c"},"cluster":{"name":"n"}}]`,
		`[{"ID":"a","Id":"b","healthy":true,"HEALTHY":null,"operational":false,"Operational":null}]`,
		"[{\"id\":\"\xff\",\"name\":\"\\ud83d\"}]", `[{"id":"a","x":` + strings.Repeat("[", 9998) + strings.Repeat("]", 9998) + `}]`,
		// The divergences this target found: an element decoded on its own
		// could nest one level deeper than encoding/json allows in a page
		// (fixed); null, which json.Unmarshal takes for an empty list
		// (refused on purpose: see decodeArray).
		`[{"id":"a","x":` + strings.Repeat("[", 9999) + strings.Repeat("]", 9999) + `}]`, `null`, " null\n",
	} {
		f.Add([]byte(seed))
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		differential[wireSource](t, body)
		differential[wireCluster](t, body)
	})
}

func differential[W any](t *testing.T, body []byte) {
	t.Helper()
	var got, want []W
	err := decodeArray(bytes.NewReader(body), &got)
	refErr := json.Unmarshal(body, &want)
	if err != nil && refErr == nil && string(bytes.Trim(body, " \t\r\n")) == "null" {
		return
	}
	if (err != nil) != (refErr != nil) {
		t.Fatalf("%T: decodeArray: %v; encoding/json: %v\n%q", want, err, refErr, truncateBytes(body, 400))
	}
	if err != nil {
		return
	}
	if len(got) != len(want) {
		t.Fatalf("%T: %d records, encoding/json %d", want, len(got), len(want))
	}
	for i := range got {
		if !reflect.DeepEqual(got[i], want[i]) {
			t.Fatalf("%T: record %d:\n got %+v\nwant %+v", want, i, got[i], want[i])
		}
	}
}
