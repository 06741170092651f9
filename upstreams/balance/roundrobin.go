package balance

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

func newRoundRobin(upstreamID string, addrs []*Endpoint) *roundRobin {
	c, _ := rrCounters.LoadOrStore(upstreamID, new(atomic.Uint64))
	weights := make([]int, len(addrs))
	for i, a := range addrs {
		weights[i] = a.Weight
	}
	return &roundRobin{schedule: smoothSchedule(weights), counter: c.(*atomic.Uint64)}
}

// Forget drops what balancing keeps of an upstream across its pool
// generations (its round-robin position), once the upstream is gone.
func Forget(upstreamID string) { rrCounters.Delete(upstreamID) }

// Pick walks the schedule from the upstream's next position.
func (rr *roundRobin) Pick(eps []*Endpoint, req *Request) int {
	n := uint64(len(rr.schedule))
	if n == 0 {
		return -1
	}
	start := rr.counter.Add(1) - 1
	for i := uint64(0); i < n; i++ {
		idx := int(rr.schedule[(start+i)%n])
		if usable(eps, idx, req) {
			return idx
		}
	}
	return -1
}

// smoothSchedule returns the smooth weighted round-robin sequence for the
// weights: weights are reduced by their gcd (and scaled down when the
// sequence would exceed the cap), then the k-th turn of address i (of n)
// is placed at virtual time (k + (2i+1)/2n) / w_i, ties going to the lower
// index. Distinct phases keep light addresses from bunching up; the cost
// is O(L log N) for a schedule of length L.
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
	h := turnHeap{turns: make([]turn, 0, len(weights)), n: int64(len(weights))}
	for i, w := range reduced {
		if w > 0 {
			h.turns = append(h.turns, turn{index: i, k: 0, weight: w})
		}
	}
	heap.Init(&h)
	out := make([]uint32, 0, length)
	for len(out) < length {
		t := &h.turns[0]
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

// turn is an address's next slot in the schedule.
type turn struct{ index, k, weight int }

// turnHeap orders turns by virtual time (2n·k + 2i + 1) / (2n·w).
type turnHeap struct {
	turns []turn
	n     int64
}

func (h *turnHeap) Len() int { return len(h.turns) }
func (h *turnHeap) Less(i, j int) bool {
	a, b := h.turns[i], h.turns[j]
	// compare the two fractions by cross-multiplication, exactly
	x := (2*h.n*int64(a.k) + 2*int64(a.index) + 1) * int64(b.weight)
	y := (2*h.n*int64(b.k) + 2*int64(b.index) + 1) * int64(a.weight)
	if x != y {
		return x < y
	}
	return a.index < b.index
}
func (h *turnHeap) Swap(i, j int) { h.turns[i], h.turns[j] = h.turns[j], h.turns[i] }
func (h *turnHeap) Push(x any)    { h.turns = append(h.turns, x.(turn)) }
func (h *turnHeap) Pop() any {
	x := h.turns[len(h.turns)-1]
	h.turns = h.turns[:len(h.turns)-1]
	return x
}

func gcd(a, b int) int {
	for b != 0 {
		a, b = b, a%b
	}
	return a
}
