// Package suggest finds what a user probably meant: the closest of known
// names to a mistyped one, for "did you mean ...?" in messages (flags,
// commands, settings keys, routes, templates).
package suggest

import "strings"

// Closest returns the candidate nearest to typed when it is near enough to
// be a typo: at most one edit per four characters of typed, and at least
// one. Case is ignored; ties go to the candidate listed first. It returns
// "" when none is near.
func Closest(typed string, candidates []string) string {
	limit := 1 + len(typed)/4
	best, bestD := "", limit+1
	lower := strings.ToLower(typed)
	for _, c := range candidates {
		if d := Distance(lower, strings.ToLower(c)); d < bestD {
			best, bestD = c, d
		}
	}
	return best
}

// Distance counts the insertions, deletions, substitutions and swaps of two
// neighbours that turn a into b (optimal string alignment distance).
func Distance(a, b string) int {
	d := make([][]int, len(a)+1)
	for i := range d {
		d[i] = make([]int, len(b)+1)
		d[i][0] = i
	}
	for j := range d[0] {
		d[0][j] = j
	}
	for i := 1; i <= len(a); i++ {
		for j := 1; j <= len(b); j++ {
			cost := 1
			if a[i-1] == b[j-1] {
				cost = 0
			}
			d[i][j] = min(d[i-1][j]+1, d[i][j-1]+1, d[i-1][j-1]+cost)
			if i > 1 && j > 1 && a[i-1] == b[j-2] && a[i-2] == b[j-1] {
				d[i][j] = min(d[i][j], d[i-2][j-2]+1)
			}
		}
	}
	return d[len(a)][len(b)]
}
