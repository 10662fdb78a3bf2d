package config

import (
	"maps"
	"testing"
)

func TestConfigProtocolFloors(t *testing.T) {
	kafka4 := map[int16]int16{0: 3, 1: 4, 2: 1, 8: 2, 9: 1, 19: 2, 20: 1, 23: 2, 27: 1, 29: 1, 30: 1, 31: 1, 32: 1, 34: 1, 35: 1, 38: 1, 39: 1, 40: 1, 41: 1}
	for _, c := range []struct {
		release string
		want    map[int16]int16
	}{
		{"0.8", map[int16]int16{}},
		{"0.8.0", map[int16]int16{}},
		{"0.8.2", map[int16]int16{8: 1, 9: 1}}, // OffsetCommit v1 and OffsetFetch v1 (Kafka-stored)
		{"0.9.0.1", map[int16]int16{0: 1, 1: 1, 8: 2, 9: 1}},
		{"0.10.0", map[int16]int16{0: 2, 1: 2, 8: 2, 9: 1}},
		{"0.10.1", map[int16]int16{0: 2, 1: 3, 2: 1, 8: 2, 9: 1}},
		{"0.10.2", map[int16]int16{0: 2, 1: 3, 2: 1, 8: 2, 9: 1, 19: 1}},
		{"0.11.0.3", map[int16]int16{0: 3, 1: 4, 2: 1, 8: 2, 9: 1, 19: 2, 20: 1}},
		{"2.1", kafka4},
		{"2.1.1", kafka4},
	} {
		got, err := ProtocolFloors(c.release)
		if err != nil {
			t.Fatalf("%s: %v", c.release, err)
		}
		// APIs Strata does not implement are left out of the comparison below 2.1.
		if c.release < "2" {
			for _, k := range []int16{23, 27, 29, 30, 31, 32, 34, 35, 38, 39, 40, 41} {
				delete(got, k)
			}
		}
		if !maps.Equal(got, c.want) {
			t.Errorf("%s: floors %v, want %v", c.release, got, c.want)
		}
	}
	for _, bad := range []string{"", "0.7", "0.9.1", "0.12.0", "2.2", "3.0", "4.0", "1.2", "x", "0.10.0-IV1", " 2.1"} {
		if _, err := ProtocolFloors(bad); err == nil {
			t.Errorf("%q accepted", bad)
		}
		if err := ValidateBroker(map[string]string{ProtocolMinVersion: bad}); err == nil {
			t.Errorf("broker setting %q accepted", bad)
		}
	}
	if err := ValidateBroker(map[string]string{ProtocolMinVersion: "0.10.0"}); err != nil {
		t.Fatal(err)
	}
}
