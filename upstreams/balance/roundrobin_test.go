package balance

import (
	"fmt"
	"testing"
)

func TestSmoothScheduleShapes(t *testing.T) {
	for _, tc := range []struct {
		weights []int
		want    string
	}{
		{[]int{100, 100}, "01"},
		{[]int{300, 100}, "0001"},
		{[]int{5, 1, 1}, "0001002"},
		{[]int{0, 7}, "1"},
		{[]int{0, 0}, ""},
	} {
		got := ""
		for _, i := range smoothSchedule(tc.weights) {
			got += fmt.Sprint(i)
		}
		if got != tc.want {
			t.Errorf("weights %v: schedule %q, want %q", tc.weights, got, tc.want)
		}
	}
	// the schedule stays bounded for huge co-prime weights
	weights := make([]int, 1000)
	for i := range weights {
		weights[i] = 65535 - i
	}
	if s := smoothSchedule(weights); len(s) > maxScheduleFactor*len(weights)+minScheduleCap+len(weights) {
		t.Fatalf("schedule length %d not bounded", len(s))
	}
}
