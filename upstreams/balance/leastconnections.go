package balance

// newLeastConnections is Kong's least-connections: the address with the
// fewest in-flight requests relative to its weight, (in-flight+1)/weight,
// where the +1 lets heavier addresses win ties.
func newLeastConnections(addrs []*Endpoint) *leastCost {
	return newLeastCost(addrs, fewerConnections)
}

// fewerConnections compares (in-flight+1)/weight exactly, in integers.
func fewerConnections(a, b *Endpoint) bool {
	return (a.State.InFlight.Load()+1)*int64(b.Weight) < (b.State.InFlight.Load()+1)*int64(a.Weight)
}
