package upstreams_test

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"testing"

	"github.com/google/uuid"

	"github.com/caddy-upstreams/caddy-upstreams/upstreams"
)

// preloadedStore serves a fixed set of records and accepts no writes: it
// builds registries with many upstreams without a write per upstream.
type preloadedStore struct{ recs []upstreams.Record }

func (s *preloadedStore) Load(context.Context) ([]upstreams.Record, error) { return s.recs, nil }
func (s *preloadedStore) Apply(context.Context, upstreams.Batch) error     { return nil }
func (s *preloadedStore) Close() error                                     { return nil }

func registryWith(tb testing.TB, n int) *upstreams.Registry {
	tb.Helper()
	recs := make([]upstreams.Record, n)
	for i := range recs {
		id := uuid.NewString()
		tags := `["all"]`
		if i%3 == 0 {
			tags = `["all","third"]`
		}
		data := fmt.Sprintf(`{"id":%q,"name":"u%d","tags":%s}`, id, i, tags)
		recs[i] = upstreams.Record{Kind: upstreams.UpstreamSchema.Name, ID: id, Key: fmt.Sprintf("u%d", i), Data: json.RawMessage(data)}
	}
	reg, err := upstreams.NewRegistry(context.Background(), &preloadedStore{recs: recs}, nil)
	if err != nil {
		tb.Fatal(err)
	}
	return reg
}

func TestUpstreamsAfterPagesInIDOrder(t *testing.T) {
	reg := registryWith(t, 2345)
	all := reg.Upstreams()
	third := func(u *upstreams.Upstream) bool { return len(u.Tags) == 2 }
	for _, tc := range []struct {
		limit int
		match func(*upstreams.Upstream) bool
	}{{1, nil}, {100, nil}, {1000, nil}, {3000, nil}, {7, third}, {100, third}} {
		var want []string
		for _, u := range all {
			if tc.match == nil || tc.match(&u) {
				want = append(want, u.ID)
			}
		}
		var got []string
		after, pages := "", 0
		for {
			page, more := reg.UpstreamsAfter(after, tc.limit, tc.match)
			pages++
			if len(page) > tc.limit || (more && len(page) != tc.limit) {
				t.Fatalf("limit %d: page of %d, more=%v", tc.limit, len(page), more)
			}
			for _, u := range page {
				got = append(got, u.ID)
			}
			if !more {
				break
			}
			after = page[len(page)-1].ID
		}
		if strings.Join(got, ",") != strings.Join(want, ",") {
			t.Fatalf("limit %d: paging gave %d ids in another order than the %d sorted ones", tc.limit, len(got), len(want))
		}
		if wantPages := max(1, (len(want)+tc.limit-1)/tc.limit); pages != wantPages {
			t.Fatalf("limit %d: %d pages, want %d", tc.limit, pages, wantPages)
		}
	}
	if page, more := reg.UpstreamsAfter("ffffffff-ffff-ffff-ffff-ffffffffffff", 10, nil); len(page) != 0 || more {
		t.Fatalf("after the last id: %d, %v", len(page), more)
	}
}

// BenchmarkListPage compares one 100-upstream page out of 10 000 through
// UpstreamsAfter with copying and sorting every upstream (Upstreams).
func BenchmarkListPage(b *testing.B) {
	reg := registryWith(b, 10000)
	mid := reg.Upstreams()[5000].ID
	b.Run("UpstreamsAfter", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			reg.UpstreamsAfter(mid, 100, nil)
		}
	})
	b.Run("UpstreamsSortAll", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			all := reg.Upstreams()
			_ = all[5001:5101]
		}
	})
}
