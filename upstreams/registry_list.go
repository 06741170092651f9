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
	r.mu.RLock()
	defer r.mu.RUnlock()
	return pageAfter(r.upstreams, afterID, limit, match)
}

// pageAfter cuts one page out of entities keyed by id, as UpstreamsAfter
// describes. The caller holds the registry's read lock.
func pageAfter[T any](byID map[string]*T, afterID string, limit int, match func(*T) bool) (page []T, more bool) {
	if limit < 1 {
		return nil, false
	}
	h := &idMaxHeap[T]{}
	keep := limit + 1 // one more than the page tells whether more follow
	for id, e := range byID {
		if id <= afterID {
			continue
		}
		if h.Len() == keep && id >= h.items[0].id {
			continue
		}
		if match != nil && !match(e) {
			continue
		}
		if h.Len() == keep {
			h.items[0] = idEntry[T]{id, e}
			heap.Fix(h, 0)
		} else {
			heap.Push(h, idEntry[T]{id, e})
		}
	}
	list := h.items
	sort.Slice(list, func(i, j int) bool { return list[i].id < list[j].id })
	if len(list) > limit {
		list, more = list[:limit], true
	}
	page = make([]T, len(list))
	for i, e := range list {
		page[i] = *e.value
	}
	return page, more
}

// idEntry is an entity and its id.
type idEntry[T any] struct {
	id    string
	value *T
}

// idMaxHeap is a max-heap of entities by id: its root is the largest id
// kept so far, the first to go when a smaller one arrives.
type idMaxHeap[T any] struct{ items []idEntry[T] }

func (h *idMaxHeap[T]) Len() int           { return len(h.items) }
func (h *idMaxHeap[T]) Less(i, j int) bool { return h.items[i].id > h.items[j].id }
func (h *idMaxHeap[T]) Swap(i, j int)      { h.items[i], h.items[j] = h.items[j], h.items[i] }
func (h *idMaxHeap[T]) Push(x any)         { h.items = append(h.items, x.(idEntry[T])) }
func (h *idMaxHeap[T]) Pop() any {
	x := h.items[len(h.items)-1]
	h.items = h.items[:len(h.items)-1]
	return x
}
