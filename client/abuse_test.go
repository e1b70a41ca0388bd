package client

import (
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"runtime"
	"strings"
	"sync/atomic"
	"testing"
	"time"
)

// bigBody streams n bytes of an empty JSON array without holding them.
func bigBody(n int) io.Reader {
	return io.MultiReader(strings.NewReader("["), repeated(" ", n-2), strings.NewReader("]"))
}

// A 200 MB answer, announced or not, is refused after at most 64 MiB, the
// record is isolated and skipped, the scan goes on, and the memory is given
// back: the heap after it is as small as before.
func TestOversizedAnswersAreBounded(t *testing.T) {
	for _, announced := range []bool{false, true} {
		t.Run(fmt.Sprintf("announced=%v", announced), func(t *testing.T) {
			if testing.Short() && !announced {
				t.Skip("reads 64 MiB four times: left to the full run")
			}
			var oversized atomic.Int32
			srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				if r.URL.Path == "/oauth/token" {
					w.Header().Set("Content-Type", "application/json")
					_, _ = io.WriteString(w, `{"access_token":"t","token_type":"bearer","expires_in":749}`)
					return
				}
				// Every request at the start of the list gets 200 MB, until
				// the client skips that position.
				if r.URL.Query().Get("offset") == "0" && !strings.Contains(r.URL.Query().Get("filters"), " gt ") {
					oversized.Add(1)
					const size = 200 << 20
					if announced {
						w.Header().Set("Content-Length", fmt.Sprint(size))
					}
					_, _ = io.Copy(w, bigBody(size))
					return
				}
				_, _ = io.WriteString(w, `[{"id":"after","modified":"2026-12-01T00:00:01.000Z"}]`)
			}))
			defer srv.Close()
			// Pages of 2: the client halves the page once before the record is
			// alone, and each unannounced answer costs a read of 64 MiB.
			c, err := New(Config{BaseURL: srv.URL, ClientID: "id", ClientSecret: "secret", PageSize: 2,
				MinBackoff: time.Millisecond, MaxBackoff: time.Millisecond, RequestsPerSecond: 1000})
			if err != nil {
				t.Fatal(err)
			}
			c.sleep = (&fakeSleeper{}).sleep
			var before runtime.MemStats
			runtime.GC()
			runtime.ReadMemStats(&before)
			var got []string
			var rejected []Rejection
			err = c.Scan(t.Context(), Cursor{Modified: time.Date(2026, 12, 1, 0, 0, 0, 0, time.UTC)}, func(p Page) error {
				for _, a := range p.Activities {
					got = append(got, a.ID)
				}
				rejected = append(rejected, p.Rejected...)
				return nil
			})
			if err != nil {
				t.Fatal(err)
			}
			if len(rejected) != 1 || rejected[0].Reason != RejectTooLarge || len(got) != 1 || got[0] != "after" {
				t.Fatalf("rejected %+v, delivered %v", rejected, got)
			}
			var after runtime.MemStats
			runtime.GC()
			runtime.ReadMemStats(&after)
			if grown := int64(after.HeapInuse) - int64(before.HeapInuse); grown > 8<<20 {
				t.Fatalf("the heap kept %d MB after the oversized answers", grown>>20)
			}
			if held := after.HeapSys - after.HeapReleased; held > 64<<20 {
				t.Fatalf("the process holds %d MB of heap from the system after the oversized answers", held>>20)
			}
			t.Logf("%d oversized answers; heap in use after: %d MB, held from the system: %d MB", oversized.Load(), after.HeapInuse>>20, (after.HeapSys-after.HeapReleased)>>20)
		})
	}
}

// An errors array of 100,000 strings costs a count, not memory.
func TestHugeErrorsArrayIsCounted(t *testing.T) {
	t.Parallel()
	body := `[{"id":"a","errors":[` + strings.TrimSuffix(strings.Repeat(`"sailpoint.connector.ConnectorException: x",`, 100_000), ",") + `]}]`
	got, rejected, err := decode(body)
	if err != nil || len(rejected) != 0 || len(got) != 1 || got[0].Errors != 100_000 {
		t.Fatalf("%v %+v %+v", err, rejected, got)
	}
}
