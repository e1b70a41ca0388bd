package apispec

import (
	"fmt"
	"testing"
)

// TestPatches pins where each patch applies, so that a new occurrence in a
// new copy of SailPoint's documents is looked at, not patched unseen.
func TestPatches(t *testing.T) {
	s := Load(t)
	want := map[string]string{
		"v1-sources":       "map[nullable allOf member:[source.yaml.managerCorrelationMapping]]",
		"v3-collection":    "map[nullable allOf member:[Source.managerCorrelationMapping]]",
		"v2025-collection": "map[nullable allOf member:[Source.managerCorrelationMapping]]",
	}
	for _, key := range sortedKeys(documents) {
		w := want[key]
		if w == "" {
			w = "map[]"
		}
		if got := fmt.Sprint(s.set.patched[key]); got != w {
			t.Errorf("%s: patched %s, want %s", key, got, w)
		}
	}
}
