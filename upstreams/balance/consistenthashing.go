package balance

import (
	"math"
	"math/bits"

	"github.com/cespare/xxhash/v2"
)

// consistentHashing maps a request's hash input to a slot of a lookup
// table whose slots are owned by weighted rendezvous hashing (see
// raceTable). Lookup is O(1); an unavailable or already tried owner sends
// the request to the next slot's owner, so keys of a down target spread
// over the others in proportion to their weights.
type consistentHashing struct {
	inputs hashInputs
	owners []uint32 // slot -> address index
}

// Table sizing: the table has at least slots entries, doubled until every
// weighted address owns minSlotsPerAddress on average (so balance does not
// degrade with many targets), but never more than maxTableSize.
const (
	minSlotsPerAddress = 32
	maxTableSize       = 1 << 22
)

func newConsistentHashing(c Config, addrs []*Endpoint) *consistentHashing {
	weighted := 0
	for _, a := range addrs {
		if a.Weight > 0 {
			weighted++
		}
	}
	return &consistentHashing{
		inputs: newHashInputs(c),
		owners: raceTable(addrs, tableSize(c.Slots, weighted)),
	}
}

// tableSize is the number of slots for an upstream's slots setting and
// number of weighted addresses. It changes only when the address count
// crosses slots·2^k/minSlotsPerAddress, so target churn keeps the table.
func tableSize(slots, addresses int) int {
	m := max(slots, 10)
	for m < minSlotsPerAddress*addresses && m*2 <= maxTableSize {
		m *= 2
	}
	return m
}

// Pick looks the request's key up in the table.
func (c *consistentHashing) Pick(eps []*Endpoint, req *Request) int {
	var h uint64
	if req != nil {
		if !req.keySet {
			req.setKey(c.inputs.key(req))
		}
		h = req.keyHash
	} else {
		h = xxhash.Sum64String("")
	}
	return c.lookup(eps, req, h)
}

// lookup returns the owner of the key's slot, or of the next slot whose
// owner is usable.
func (c *consistentHashing) lookup(eps []*Endpoint, req *Request, h uint64) int {
	m := uint64(len(c.owners))
	slot, _ := bits.Mul64(h, m)
	for k := uint64(0); k < m; k++ {
		if idx := int(c.owners[(slot+k)%m]); usable(eps, idx, req) {
			return idx
		}
	}
	return -1
}

// arrivals is an address's stream of points (time, slot): a Poisson
// process whose rate is the address's weight, with uniformly random
// slots, drawn from a generator seeded by the address's dial string only.
type arrivals struct {
	index uint32
	rate  float64
	state uint64
	t     float64 // time of the pending point
	slot  uint64  // slot of the pending point
}

func (s *arrivals) advance(m uint64) {
	u := float64(splitmix64(&s.state)>>11)/(1<<53) + 0.5/(1<<53) // (0, 1)
	s.t += -math.Log(u) / s.rate
	s.slot, _ = bits.Mul64(splitmix64(&s.state), m)
}

// splitmix64 is a tiny, fixed, portable PRNG step.
func splitmix64(state *uint64) uint64 {
	*state += 0x9e3779b97f4a7c15
	z := *state
	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9
	z = (z ^ (z >> 27)) * 0x94d049bb133111eb
	return z ^ (z >> 31)
}

// raceTable assigns each of m slots to the weighted address whose
// arrivals stream reaches the slot first. An address's first arrival at a
// given slot is exponential with rate weight/m, independent of every other
// slot and address, so the owner of each slot is exactly a weighted
// rendezvous-hashing (HRW) choice: address i wins with probability
// w_i/Σw, adding an address only takes slots from others (it wins where
// it arrives first), removing one only frees its own slots, and the table
// depends on the set of (dial, weight) pairs alone, not on their order or
// on the process. Building costs about m·(ln m + 4) draws whatever the
// number of addresses, instead of m·N for per-slot HRW.
func raceTable(addrs []*Endpoint, m int) []uint32 {
	streams := make([]arrivals, 0, len(addrs))
	totalWeight := 0.0
	for i, a := range addrs {
		if a.Weight <= 0 {
			continue
		}
		s := arrivals{index: uint32(i), rate: float64(a.Weight), state: xxhash.Sum64String(a.Dial)}
		s.advance(uint64(m))
		streams = append(streams, s)
		totalWeight += float64(a.Weight)
	}
	if len(streams) == 0 {
		return nil
	}
	owners := make([]uint32, m)
	first := make([]float64, m)
	for i := range first {
		first[i] = math.Inf(1)
	}
	// Every slot's first arrival (over all addresses) is exponential with
	// rate Σw/m: by this horizon all slots are reached with probability
	// about 1-e^-4; later rounds extend it for the few that were not.
	horizon := float64(m) * (math.Log(float64(m)) + 4) / totalWeight
	for reached := 0; reached < m; horizon *= 2 {
		for si := range streams {
			s := &streams[si]
			for s.t < horizon {
				if s.t < first[s.slot] {
					if math.IsInf(first[s.slot], 1) {
						reached++
					}
					first[s.slot], owners[s.slot] = s.t, s.index
				}
				s.advance(uint64(m))
			}
		}
	}
	return owners
}
