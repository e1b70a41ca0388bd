package tenant

import (
	"reflect"
	"testing"
	"time"
)

// Every field of Settings decides whether a reload restarts the tenant:
// changing any one of them makes the settings unequal, and only the secret
// (and where it was read) is a rotation that needs no restart.
func TestEverySettingCounts(t *testing.T) {
	t.Parallel()
	base := Settings{
		Name: "production", URL: "https://acme.api.identitynow.com", ClientID: "id", Secret: "s", SecretFrom: "file /s",
		APIVersion: "v1", RequestsPerSecond: 5, Timeout: 30 * time.Second, PageSize: 250, StateFile: "/var/lib/x.state",
		UserAgent: "sailpoint_exporter/1", ActivitiesInterval: time.Minute, Lookback: 24 * time.Hour, Overlap: 5 * time.Minute,
		SweepEvery: 5 * time.Minute, PrimeConcurrency: 8,
		MaxTypes: 64, MaxSources: 256, Sources: true, SourcesInterval: 5 * time.Minute, Clusters: true, ClustersInterval: 5 * time.Minute,
		AggregationsInterval: 5 * time.Minute, AggregationsLookback: 168 * time.Hour, AggregationTypes: []string{"CLOUD_ACCOUNT_AGGREGATION"},
	}
	if !base.Equal(base) || !base.EqualButSecret(base) {
		t.Fatal("settings differ from themselves")
	}
	v := reflect.ValueOf(base)
	for i := range v.NumField() {
		name := v.Type().Field(i).Name
		changed := base
		f := reflect.ValueOf(&changed).Elem().Field(i)
		switch f.Kind() {
		case reflect.String:
			f.SetString(f.String() + "-changed")
		case reflect.Int, reflect.Int64:
			f.SetInt(f.Int() + 1)
		case reflect.Float64:
			f.SetFloat(f.Float() + 1)
		case reflect.Bool:
			f.SetBool(!f.Bool())
		case reflect.Slice:
			f.Set(reflect.ValueOf([]string{"CLOUD_GROUP_AGGREGATION"}))
		default:
			t.Fatalf("field %s of kind %s: teach this test to change it", name, f.Kind())
		}
		if base.Equal(changed) {
			t.Errorf("a changed %s leaves the settings equal: a reload would not restart the tenant", name)
		}
		rotation := name == "Secret" || name == "SecretFrom"
		if got := base.EqualButSecret(changed); got != rotation {
			t.Errorf("a changed %s: EqualButSecret %v, want %v", name, got, rotation)
		}
	}
}
