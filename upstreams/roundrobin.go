package upstreams

import (
	"container/heap"
	"sync"
	"sync/atomic"
)

// roundRobin is smooth weighted round-robin with O(1) lock-free picks: the
// schedule (a sequence of address indexes in which each address appears in
// proportion to its weight, spread as evenly as possible) is computed when
// the pool is built, and requests walk it with an atomic counter. Weights
// 100/100 alternate; 300/100 gives a,a,b,a; weight 0 never appears.
type roundRobin struct {
	schedule []uint32
	counter  *atomic.Uint64
}

// maxScheduleFactor bounds the schedule at this many slots per address
// (plus a floor), so memory stays proportional to the number of targets.
// Weight ratios whose reduced sum exceeds it are approximated.
const (
	maxScheduleFactor = 16
	minScheduleCap    = 4096
)

// rrCounters keeps each upstream's position across pool rebuilds, so a
// target change does not restart the rotation at the first target.
var rrCounters sync.Map // upstream id -> *atomic.Uint64

func newRoundRobin(upstreamID string, addrs []*Address) *roundRobin {
	c, _ := rrCounters.LoadOrStore(upstreamID, new(atomic.Uint64))
	weights := make([]int, len(addrs))
	for i, a := range addrs {
		weights[i] = a.Weight
	}
	return &roundRobin{schedule: smoothSchedule(weights), counter: c.(*atomic.Uint64)}
}

func (rr *roundRobin) pick(p *Pool, req *PickRequest) int {
	n := uint64(len(rr.schedule))
	if n == 0 {
		return -1
	}
	start := rr.counter.Add(1) - 1
	for i := uint64(0); i < n; i++ {
		idx := int(rr.schedule[(start+i)%n])
		if p.usable(idx, req) {
			return idx
		}
	}
	return -1
}

// smoothSchedule returns the smooth weighted round-robin sequence for the
// weights: weights are reduced by their gcd (and scaled down when the
// sequence would exceed the cap), then each address's k-th turn is placed
// at virtual time (k+0.5)/w, ties going to the lower index. This yields the
// same sequence as nginx's smooth WRR for small weights, in O(L log N).
func smoothSchedule(weights []int) []uint32 {
	g := 0
	total := 0
	for _, w := range weights {
		if w > 0 {
			g = gcd(g, w)
			total += w
		}
	}
	if total == 0 {
		return nil
	}
	reduced := make([]int, len(weights))
	length := 0
	for i, w := range weights {
		if w > 0 {
			reduced[i] = w / g
			length += reduced[i]
		}
	}
	limit := maxScheduleFactor*len(weights) + minScheduleCap
	if length > limit {
		scale := float64(limit) / float64(length)
		length = 0
		for i, w := range reduced {
			if w > 0 {
				s := int(float64(w)*scale + 0.5)
				if s < 1 {
					s = 1
				}
				reduced[i] = s
				length += s
			}
		}
	}
	h := make(turnHeap, 0, len(weights))
	for i, w := range reduced {
		if w > 0 {
			h = append(h, turn{index: i, k: 0, weight: w})
		}
	}
	heap.Init(&h)
	out := make([]uint32, 0, length)
	for len(out) < length {
		t := &h[0]
		out = append(out, uint32(t.index))
		t.k++
		if t.k >= t.weight {
			heap.Pop(&h)
		} else {
			heap.Fix(&h, 0)
		}
	}
	return out
}

// turn is an address's next slot in the schedule: at virtual time
// (k+0.5)/weight.
type turn struct{ index, k, weight int }

type turnHeap []turn

func (h turnHeap) Len() int { return len(h) }
func (h turnHeap) Less(i, j int) bool {
	// compare (2ki+1)/wi with (2kj+1)/wj without floating point
	a := int64(2*h[i].k+1) * int64(h[j].weight)
	b := int64(2*h[j].k+1) * int64(h[i].weight)
	if a != b {
		return a < b
	}
	return h[i].index < h[j].index
}
func (h turnHeap) Swap(i, j int) { h[i], h[j] = h[j], h[i] }
func (h *turnHeap) Push(x any)   { *h = append(*h, x.(turn)) }
func (h *turnHeap) Pop() any     { old := *h; x := old[len(old)-1]; *h = old[:len(old)-1]; return x }

func gcd(a, b int) int {
	for b != 0 {
		a, b = b, a%b
	}
	return a
}
