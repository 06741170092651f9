package main

import (
	"fmt"
	"slices"
	"time"
)

// durations summarises a set of measured durations.
type durations []time.Duration

// percentile returns the p-th percentile (0..100), nearest rank.
func (d durations) percentile(p float64) time.Duration {
	if len(d) == 0 {
		return 0
	}
	s := slices.Clone(d)
	slices.Sort(s)
	i := int(p/100*float64(len(s))+0.5) - 1
	return s[min(max(i, 0), len(s)-1)]
}

// String renders count, p50, p99 and max.
func (d durations) String() string {
	if len(d) == 0 {
		return "n=0"
	}
	return fmt.Sprintf("n=%d p50=%s p99=%s max=%s", len(d), ms(d.percentile(50)), ms(d.percentile(99)), ms(d.percentile(100)))
}

// ms renders a duration in milliseconds with two decimals.
func ms(d time.Duration) string { return fmt.Sprintf("%.2fms", float64(d)/float64(time.Millisecond)) }
