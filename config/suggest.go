package config

// suggest returns the known key closest to key when it is close enough to
// be a typo, or "".
func suggest(key string, known []string) string {
	best, bestDist := "", len(key)/2+1
	if bestDist > 3 {
		bestDist = 3
	}
	for _, k := range known {
		if d := editDistance(key, k); d < bestDist {
			best, bestDist = k, d
		}
	}
	return best
}

// editDistance is the Levenshtein distance between a and b, over bytes
// (keys are ASCII).
func editDistance(a, b string) int {
	prev := make([]int, len(b)+1)
	cur := make([]int, len(b)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(a); i++ {
		cur[0] = i
		for j := 1; j <= len(b); j++ {
			cost := 1
			if a[i-1] == b[j-1] {
				cost = 0
			}
			cur[j] = min(prev[j]+1, cur[j-1]+1, prev[j-1]+cost)
		}
		prev, cur = cur, prev
	}
	return prev[len(b)]
}

// SuggestJob returns the configured job whose name is closest to name when
// it is close enough to be a typo, or "": the CLI's did-you-mean.
func (c *Config) SuggestJob(name string) string {
	names := make([]string, len(c.Jobs))
	for i, j := range c.Jobs {
		names[i] = j.Name
	}
	return suggest(name, names)
}

// Suggest returns the word of known closest to word when it is close
// enough to be a typo, or "": the CLI's did-you-mean for commands and flags.
func Suggest(word string, known []string) string { return suggest(word, known) }
