package apispec_test

import (
	"testing"

	"github.com/sailpoint-exporter/sailpoint_exporter/internal/apispec"
)

func TestLoad(t *testing.T) {
	spec := apispec.Load(t)
	t.Logf("loading and validating SailPoint's documents took %v", spec.LoadTime())
	if n := len(apispec.Operations()); n != 5+4+4+5+5+5 {
		t.Errorf("the table has %d operations", n)
	}
	if again := apispec.Load(t); again.LoadTime() != spec.LoadTime() {
		t.Errorf("a second Load loaded the documents again")
	}
}
