package upstreams

// newLeastConnections is Kong's least-connections: the address with the
// fewest in-flight requests relative to its weight, (in-flight+1)/weight,
// where the +1 lets heavier addresses win ties.
func newLeastConnections(addrs []*Address) *leastCost {
	return newLeastCost(addrs, connectionsCost)
}

func connectionsCost(a *Address, _ int64) float64 {
	return float64(a.State.InFlight.Load()+1) / float64(a.Weight)
}
