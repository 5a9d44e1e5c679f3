// Package stats holds the small summaries more than one package reports.
package stats

import "slices"

// Median is the middle value of v (the mean of the two middle values for an
// even count; 0 for none). v is not modified.
func Median(v []float64) float64 {
	if len(v) == 0 {
		return 0
	}
	s := slices.Clone(v)
	slices.Sort(s)
	if len(s)%2 == 1 {
		return s[len(s)/2]
	}
	return (s[len(s)/2-1] + s[len(s)/2]) / 2
}
