package kongproxy

import (
	"crypto/rand"
	"encoding/binary"
	"encoding/hex"
	"sync/atomic"
)

// requestIDs hands out Kong's request ids: 32 lowercase hex digits, like
// Kong's (nginx's $request_id). An id is a 64-bit prefix drawn from
// crypto/rand when the process starts, followed by a per-process counter
// passed through a bijection of 64-bit integers, so ids never repeat
// within a process (2⁶⁴ requests), repeat across processes or restarts
// only if two random prefixes collide, and do not read as a sequence. It
// costs an atomic add and a few multiplications instead of the 16 random
// bytes of a v4 UUID per request.
type requestIDs struct {
	prefix [16]byte // hex of the random prefix
	key    uint64   // random, xored into the counter before mixing
	next   atomic.Uint64
}

// processRequestIDs is the process's generator: one prefix per process.
var processRequestIDs = newRequestIDs()

// newRequestIDs draws a prefix and a key from crypto/rand.
func newRequestIDs() *requestIDs {
	var seed [16]byte
	_, _ = rand.Read(seed[:]) // crypto/rand.Read never fails on supported platforms (Go ≥ 1.24)
	g := &requestIDs{key: binary.LittleEndian.Uint64(seed[8:])}
	hex.Encode(g.prefix[:], seed[:8])
	return g
}

// id returns a new request id.
func (g *requestIDs) id() string {
	var b [32]byte
	copy(b[:16], g.prefix[:])
	var n [8]byte
	binary.BigEndian.PutUint64(n[:], mix64(g.next.Add(1)^g.key))
	hex.Encode(b[16:], n[:])
	return string(b[:])
}

// mix64 is SplitMix64's finalizer: a bijection of uint64 (each step,
// an xor with a right shift of itself or a multiplication by an odd
// constant, can be undone), so distinct counters give distinct ids.
func mix64(x uint64) uint64 {
	x ^= x >> 30
	x *= 0xbf58476d1ce4e5b9
	x ^= x >> 27
	x *= 0x94d049bb133111eb
	x ^= x >> 31
	return x
}
