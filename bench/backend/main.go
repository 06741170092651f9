// Command backend is the benchmarks' origin server: one process answering
// on many ports of 127.0.0.1, so that a pool of 1 000 targets costs one
// process. Every request gets 200 with a short body and the port that
// served it in the X-Backend-Port header.
//
//	backend -base 21000 -n 1000            # ports 21000..20999+n
//	backend -base 21990 -n 1 -announce     # also prints "first <port> <unix ns>" on the first request (probes excluded)
//
// It runs until killed (the churn soak kills one with SIGKILL).
package main

import (
	"flag"
	"fmt"
	"log"
	"net"
	"net/http"
	"strconv"
	"sync"
	"time"
)

func main() {
	host := flag.String("host", "127.0.0.1", "address to listen on (loopback only)")
	base := flag.Int("base", 21000, "first port")
	n := flag.Int("n", 1, "number of consecutive ports")
	announce := flag.Bool("announce", false, `print "first <port> <unix ns>" on each port's first request`)
	probePath := flag.String("probe-path", "/healthz", "health-check path, not announced")
	flag.Parse()
	if ip := net.ParseIP(*host); ip == nil || !ip.IsLoopback() {
		log.Fatalf("backend: %s is not a loopback address", *host)
	}

	body := []byte("ok\n")
	var first sync.Map // port -> struct{}, when announcing
	handler := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		port := localPort(r)
		if *announce && r.URL.Path != *probePath {
			if _, seen := first.LoadOrStore(port, struct{}{}); !seen {
				fmt.Printf("first %s %d\n", port, time.Now().UnixNano())
			}
		}
		h := w.Header()
		h["X-Backend-Port"] = []string{port}
		h["Content-Type"] = []string{"text/plain"}
		w.Write(body)
	})
	srv := &http.Server{Handler: handler, ReadHeaderTimeout: 10 * time.Second, IdleTimeout: 2 * time.Minute}

	errs := make(chan error, *n)
	for p := *base; p < *base+*n; p++ {
		ln, err := net.Listen("tcp", net.JoinHostPort(*host, strconv.Itoa(p)))
		if err != nil {
			log.Fatalf("backend: %v", err)
		}
		go func() { errs <- srv.Serve(ln) }()
	}
	fmt.Printf("ready %d ports from %d\n", *n, *base)
	log.Fatalf("backend: %v", <-errs)
}

// localPort is the port the request arrived on.
func localPort(r *http.Request) string {
	if a, ok := r.Context().Value(http.LocalAddrContextKey).(net.Addr); ok {
		if _, port, err := net.SplitHostPort(a.String()); err == nil {
			return port
		}
	}
	return ""
}
