package balance

import (
	"fmt"
	"testing"
)

// hashPool builds a consistent-hashing pool over the given dials and weights.
func hashPool(slots int, dials []string, weights []int) *testPool {
	c := Config{UpstreamID: "u-hash", Algorithm: ConsistentHashing, HashOn: Input{On: "header"},
		HashFallback: Input{On: "none"}, Slots: slots}
	return newTestPool(c, dials, weights)
}

func testDials(from, n int) []string {
	out := make([]string, n)
	for i := range out {
		k := from + i
		out[i] = fmt.Sprintf("10.1.%d.%d:8080", k/250, k%250+1)
	}
	return out
}

func repeat(v, n int) []int {
	out := make([]int, n)
	for i := range out {
		out[i] = v
	}
	return out
}

const disruptionKeys = 100_000

// keyOwners maps each of the keys "user-0".. to the dial it hashes to.
func keyOwners(t *testing.T, p *testPool) []string {
	t.Helper()
	out := make([]string, disruptionKeys)
	for k := range out {
		var req Request
		req.setKey(fmt.Sprintf("user-%d", k))
		a := p.Pick(&req)
		if a == nil {
			t.Fatal("no pick")
		}
		out[k] = a.Dial
	}
	return out
}

// TestConsistentHashingDisruption checks, over 100 000 keys, that adding
// one target to N moves at most 1.1/(N+1) of the keys (weighted: 1.1 times
// the new target's share), all of them to the new target, and that
// removing a target moves exactly the keys it had.
func TestConsistentHashingDisruption(t *testing.T) {
	for _, tc := range []struct {
		n, slots    int
		weight      int // of every existing target
		addedWeight int
	}{
		{5, 10000, 100, 100}, // Kong's own test: 5 -> 6 targets
		{10, 10000, 100, 100},
		{20, 10000, 100, 100},
		{50, 65536, 100, 100},
		{10, 10000, 100, 300}, // a heavier newcomer
		{100, 65536, 100, 100},
	} {
		t.Run(fmt.Sprintf("%d+1/slots=%d/w=%d", tc.n, tc.slots, tc.addedWeight), func(t *testing.T) {
			dials := testDials(0, tc.n+1)
			weights := append(repeat(tc.weight, tc.n), tc.addedWeight)
			before := keyOwners(t, hashPool(tc.slots, dials[:tc.n], weights[:tc.n]))
			after := keyOwners(t, hashPool(tc.slots, dials, weights))
			added := dials[tc.n]
			moved := 0
			for k := range before {
				if before[k] != after[k] {
					moved++
					if after[k] != added {
						t.Fatalf("key %d moved from %s to %s, not to the new target", k, before[k], after[k])
					}
				}
			}
			share := float64(tc.addedWeight) / float64(tc.n*tc.weight+tc.addedWeight)
			limit := 1.1 * share * disruptionKeys
			t.Logf("added: %d of %d keys moved (ideal %.0f, limit %.0f)", moved, disruptionKeys, share*disruptionKeys, limit)
			if float64(moved) > limit {
				t.Errorf("adding a target moved %d keys, more than 1.1 × ideal = %.0f", moved, limit)
			}

			// remove a target from the middle: exactly its keys move
			removed := dials[tc.n/2]
			rest := append(append([]string{}, dials[:tc.n/2]...), dials[tc.n/2+1:]...)
			restWeights := append(append([]int{}, weights[:tc.n/2]...), weights[tc.n/2+1:]...)
			without := keyOwners(t, hashPool(tc.slots, rest, restWeights))
			for k := range after {
				if (after[k] == removed) != (after[k] != without[k]) {
					t.Fatalf("key %d: owner %s with all targets, %s without %s", k, after[k], without[k], removed)
				}
			}
		})
	}
}

// TestConsistentHashingIsStableAcrossProcesses pins the table to golden
// values: a random seed or an order dependency anywhere would change them
// between runs, and so between restarts and nodes.
func TestConsistentHashingIsStableAcrossProcesses(t *testing.T) {
	dials := testDials(0, 5)
	p := hashPool(10000, dials, repeat(100, 5))
	reversed := hashPool(10000, []string{dials[4], dials[3], dials[2], dials[1], dials[0]}, repeat(100, 5))
	got := ""
	for _, key := range []string{"alice", "bob", "carol", "dave", "erin", "frank", "grace", ""} {
		var req, req2 Request
		req.setKey(key)
		req2.setKey(key)
		a, b := p.Pick(&req), reversed.Pick(&req2)
		if a.Dial != b.Dial {
			t.Fatalf("key %q: %s, or %s when targets are listed in reverse", key, a.Dial, b.Dial)
		}
		got += a.Dial[len("10.1.0.") : len("10.1.0.")+1]
	}
	if want := "32411553"; got != want {
		t.Fatalf("owners of the golden keys are %q, want %q", got, want)
	}
}

func TestConsistentHashingBalancesByWeight(t *testing.T) {
	dials := testDials(0, 3)
	owners := keyOwners(t, hashPool(10000, dials, []int{100, 200, 700}))
	count := map[string]int{}
	for _, o := range owners {
		count[o]++
	}
	// shares 10/20/70 %, within 1.5 percentage points (slot granularity
	// plus key sampling)
	for i, want := range []float64{0.1, 0.2, 0.7} {
		got := float64(count[dials[i]]) / disruptionKeys
		if got < want-0.015 || got > want+0.015 {
			t.Errorf("weight share %.2f: got %.3f", want, got)
		}
	}
}

func TestConsistentHashingSkipsUnavailableTargets(t *testing.T) {
	dials := testDials(0, 4)
	p := hashPool(10000, dials, []int{100, 100, 0, 100})
	p.Addresses[1].State.SetHealthy(false)
	for k := range 1000 {
		var req Request
		req.setKey(fmt.Sprint(k))
		first := p.Pick(&req)
		if first.Dial == dials[1] || first.Dial == dials[2] {
			t.Fatalf("key %d went to unavailable %s", k, first.Dial)
		}
		req.Tried(first.Dial)
		if second := p.Pick(&req); second.Dial == first.Dial {
			t.Fatalf("key %d: the retry went to %s again", k, first.Dial)
		}
	}
}

func TestTableSize(t *testing.T) {
	for _, tc := range []struct{ slots, n, want int }{
		{10000, 10, 10000}, {10, 1, 40}, {10, 10, 320}, {10000, 1000, 40000}, {65536, 1 << 20, maxTableSize},
	} {
		if got := tableSize(tc.slots, tc.n); got != tc.want {
			t.Errorf("tableSize(%d, %d) = %d, want %d", tc.slots, tc.n, got, tc.want)
		}
	}
}
