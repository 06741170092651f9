package upstreams

import (
	"container/heap"
	"sort"
)

// UpstreamsAfter returns one page of upstreams in id order: at most limit
// upstreams whose id sorts after afterID ("" for the first page) and that
// match (nil matches all), and whether more matching upstreams follow.
//
// It copies only the upstreams it returns: one pass over the registry
// keeps the limit+1 smallest ids in a bounded heap, so a page costs
// O(n log limit) comparisons and O(limit) copies however many upstreams
// there are, instead of copying and sorting all of them. match is called
// under the registry's read lock and must not retain its argument.
func (r *Registry) UpstreamsAfter(afterID string, limit int, match func(*Upstream) bool) (page []Upstream, more bool) {
	if limit < 1 {
		return nil, false
	}
	r.mu.RLock()
	defer r.mu.RUnlock()
	h := &idMaxHeap{}
	keep := limit + 1 // one more than the page tells whether more follow
	for id, u := range r.upstreams {
		if id <= afterID {
			continue
		}
		if h.Len() == keep && id >= (*h)[0].ID {
			continue
		}
		if match != nil && !match(u) {
			continue
		}
		if h.Len() == keep {
			(*h)[0] = u
			heap.Fix(h, 0)
		} else {
			heap.Push(h, u)
		}
	}
	list := []*Upstream(*h)
	sort.Slice(list, func(i, j int) bool { return list[i].ID < list[j].ID })
	if len(list) > limit {
		list, more = list[:limit], true
	}
	page = make([]Upstream, len(list))
	for i, u := range list {
		page[i] = *u
	}
	return page, more
}

// idMaxHeap is a max-heap of upstreams by id: its root is the largest id
// kept so far, the first to go when a smaller one arrives.
type idMaxHeap []*Upstream

func (h idMaxHeap) Len() int           { return len(h) }
func (h idMaxHeap) Less(i, j int) bool { return h[i].ID > h[j].ID }
func (h idMaxHeap) Swap(i, j int)      { h[i], h[j] = h[j], h[i] }
func (h *idMaxHeap) Push(x any)        { *h = append(*h, x.(*Upstream)) }
func (h *idMaxHeap) Pop() any {
	old := *h
	x := old[len(old)-1]
	*h = old[:len(old)-1]
	return x
}
