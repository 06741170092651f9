// Package testdns runs a real DNS server on 127.0.0.1 for tests, whose
// records and failures the test changes while it runs.
package testdns

import (
	"net"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	miekgdns "github.com/miekg/dns"
)

// Server is an authoritative DNS server on a random UDP port of 127.0.0.1.
type Server struct {
	// Addr is the server's "127.0.0.1:port".
	Addr string
	// Queries counts the questions received, by "name type" (e.g.
	// "api.test. A").
	queries sync.Map // string -> *atomic.Int64

	mu      sync.Mutex
	records map[string][]miekgdns.RR // by "name type"
	rcode   int                      // answered instead of records when not RcodeSuccess
	server  *miekgdns.Server
}

// Start starts a server; it stops when the test ends.
func Start(t testing.TB) *Server {
	t.Helper()
	s := &Server{Addr: "127.0.0.1:0", records: map[string][]miekgdns.RR{}}
	s.Restart(t)
	t.Cleanup(s.Stop)
	return s
}

// Stop stops answering; the records are kept for Restart.
func (s *Server) Stop() {
	s.mu.Lock()
	server := s.server
	s.server = nil
	s.mu.Unlock()
	if server != nil {
		server.Shutdown()
	}
}

// Restart serves again on the same address (the first call picks it).
func (s *Server) Restart(t testing.TB) {
	t.Helper()
	var pc net.PacketConn
	var err error
	for i := 0; i < 50; i++ { // the old socket may linger briefly
		if pc, err = net.ListenPacket("udp", s.Addr); err == nil {
			break
		}
		time.Sleep(20 * time.Millisecond)
	}
	if err != nil {
		t.Fatal(err)
	}
	s.Addr = pc.LocalAddr().String()
	started := make(chan struct{})
	server := &miekgdns.Server{PacketConn: pc, Handler: s, NotifyStartedFunc: func() { close(started) }}
	go server.ActivateAndServe()
	select {
	case <-started:
	case <-time.After(5 * time.Second):
		t.Fatal("DNS server did not start")
	}
	s.mu.Lock()
	s.server = server
	s.mu.Unlock()
}

// Set replaces the records of name and type with the given records, in
// zone-file syntax without name, e.g. Set("api.test", "A", "5 IN A
// 127.0.0.2", "5 IN A 127.0.0.3") or Set("_http._tcp.svc.test", "SRV",
// "5 IN SRV 0 30 8080 a.test."). No record: the name has no data of the
// type.
func (s *Server) Set(name, qtype string, records ...string) {
	fqdn := miekgdns.Fqdn(name)
	var rrs []miekgdns.RR
	for _, r := range records {
		rr, err := miekgdns.NewRR(fqdn + " " + r)
		if err != nil {
			panic("testdns: bad record " + r + ": " + err.Error())
		}
		rrs = append(rrs, rr)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.records[key(fqdn, qtype)] = rrs
}

// Fail makes the server answer every question with rcode (e.g.
// miekgdns.RcodeServerFailure); RcodeSuccess answers records again.
func (s *Server) Fail(rcode int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.rcode = rcode
}

// Queries returns how many questions for name and type were received.
func (s *Server) Queries(name, qtype string) int64 {
	if c, ok := s.queries.Load(key(miekgdns.Fqdn(name), qtype)); ok {
		return c.(*atomic.Int64).Load()
	}
	return 0
}

func key(fqdn, qtype string) string { return strings.ToLower(fqdn) + " " + qtype }

// ServeDNS answers from the records: NXDOMAIN for a name without any
// record, an empty answer for a name without records of the type.
func (s *Server) ServeDNS(w miekgdns.ResponseWriter, req *miekgdns.Msg) {
	m := new(miekgdns.Msg)
	m.SetReply(req)
	m.Authoritative = true
	if len(req.Question) == 1 {
		q := req.Question[0]
		k := key(q.Name, miekgdns.TypeToString[q.Qtype])
		c, _ := s.queries.LoadOrStore(k, new(atomic.Int64))
		c.(*atomic.Int64).Add(1)
		s.mu.Lock()
		switch {
		case s.rcode != miekgdns.RcodeSuccess:
			m.Rcode = s.rcode
		case !s.hasNameLocked(q.Name):
			m.Rcode = miekgdns.RcodeNameError
		default:
			m.Answer = append(m.Answer, s.records[k]...)
		}
		s.mu.Unlock()
	}
	w.WriteMsg(m)
}

func (s *Server) hasNameLocked(fqdn string) bool {
	prefix := strings.ToLower(fqdn) + " "
	for k, rrs := range s.records {
		if strings.HasPrefix(k, prefix) && len(rrs) > 0 {
			return true
		}
	}
	return false
}
