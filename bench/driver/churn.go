package main

import (
	"flag"
	"fmt"
	"net"
	"net/http"
	"sync/atomic"
	"time"
)

// churnConfig are the flags of `driver churn`.
type churnConfig struct {
	admin      string
	upstream   string
	duration   time.Duration
	interval   time.Duration
	live       int
	startDelay time.Duration
	backend    string
	killPort   int
	killAt     time.Duration
	downFor    time.Duration
}

// runChurn adds and removes targets of a live upstream every interval for
// the duration (one operation per tick, keeping `live` runtime targets),
// while one declared backend is killed and restarted, and prints the
// propagation times. wrk (started by run.sh) supplies the traffic.
func runChurn(args []string) error {
	var c churnConfig
	fs := flag.NewFlagSet("churn", flag.ExitOnError)
	fs.StringVar(&c.admin, "admin", "http://127.0.0.1:12019/kong", "Kong Admin API base URL (loopback)")
	fs.StringVar(&c.upstream, "upstream", "churn", "upstream to churn")
	fs.DurationVar(&c.duration, "duration", 60*time.Second, "how long to churn")
	fs.DurationVar(&c.interval, "interval", 50*time.Millisecond, "one add or remove per interval")
	fs.IntVar(&c.live, "live", 4, "runtime targets kept in the upstream")
	fs.DurationVar(&c.startDelay, "start-delay", 500*time.Millisecond, "wait after printing ready before churning")
	fs.StringVar(&c.backend, "backend", "", "backend binary for the killed backend (empty: no kill)")
	fs.IntVar(&c.killPort, "kill-port", 21990, "port of the backend that is killed and restarted (a declared target)")
	fs.DurationVar(&c.killAt, "kill-at", 0, "when to kill it (default duration/3)")
	fs.DurationVar(&c.downFor, "down-for", 0, "how long it stays down (default duration/6)")
	fs.Parse(args)
	if c.killAt == 0 {
		c.killAt = c.duration / 3
	}
	if c.downFor == 0 {
		c.downFor = c.duration / 6
	}
	kong, err := newKongClient(c.admin, 4)
	if err != nil {
		return err
	}
	var victim *killable
	if c.backend != "" {
		if victim, err = startKillable(c.backend, c.killPort); err != nil {
			return err
		}
		defer victim.kill()
	}
	fmt.Println("ready")
	time.Sleep(c.startDelay)

	ch := &churner{cfg: c, kong: kong, start: time.Now()}
	var kill *killReport
	if victim != nil {
		kill = &killReport{done: make(chan struct{})}
		go ch.killAndRestart(victim, kill)
	}
	ch.loop()
	ch.report()
	if kill != nil {
		if !kill.wait(15 * time.Second) {
			return fmt.Errorf("the kill and restart of the backend did not finish (-kill-at and -down-for must fit in -duration)")
		}
		kill.print()
	}
	if len(ch.failed) > 0 {
		return fmt.Errorf("%d Admin API operations failed", len(ch.failed))
	}
	return nil
}

// churner keeps the state of the add/remove loop.
type churner struct {
	cfg   churnConfig
	kong  *kongClient
	start time.Time

	live, retired []*churnTarget
	adds, removes int
	failed        []error
	addLag        durations // POST acknowledged -> first proxied request reaching the target
	addRTT        durations // POST sent -> acknowledged
	delRTT        durations // DELETE sent -> acknowledged
	lateHits      int64     // requests reaching a target after its DELETE was acknowledged
	lateMax       time.Duration
	unreached     int // targets removed before any request reached them
}

// loop runs one operation per tick until the duration is over, then removes
// what it added.
func (ch *churner) loop() {
	tick := time.NewTicker(ch.cfg.interval)
	defer tick.Stop()
	deadline := ch.start.Add(ch.cfg.duration)
	for now := range tick.C {
		if now.After(deadline) {
			break
		}
		if len(ch.live) < ch.cfg.live {
			ch.add()
		} else {
			ch.remove()
		}
		ch.closeRetired(time.Second)
	}
	for len(ch.live) > 0 {
		ch.remove()
	}
	time.Sleep(200 * time.Millisecond) // let last requests land
	ch.closeRetired(0)
}

func (ch *churner) add() {
	t, err := listenChurnTarget()
	if err != nil {
		ch.failed = append(ch.failed, err)
		return
	}
	sent := time.Now()
	err = ch.kong.do("POST", "/upstreams/"+ch.cfg.upstream+"/targets", map[string]any{"target": t.addr, "weight": 100}, http.StatusCreated, nil)
	t.added = time.Now()
	if err != nil {
		ch.failed = append(ch.failed, err)
		t.close()
		return
	}
	ch.adds++
	ch.addRTT = append(ch.addRTT, t.added.Sub(sent))
	ch.live = append(ch.live, t)
}

func (ch *churner) remove() {
	t := ch.live[0]
	ch.live = ch.live[1:]
	sent := time.Now()
	err := ch.kong.do("DELETE", "/upstreams/"+ch.cfg.upstream+"/targets/"+t.addr, nil, http.StatusNoContent, nil)
	acked := time.Now()
	t.removedAt.Store(acked.UnixNano())
	if err != nil {
		ch.failed = append(ch.failed, err)
	} else {
		ch.removes++
		ch.delRTT = append(ch.delRTT, acked.Sub(sent))
	}
	ch.retired = append(ch.retired, t)
}

// closeRetired closes the listeners of targets removed more than grace ago
// and accounts for them.
func (ch *churner) closeRetired(grace time.Duration) {
	kept := ch.retired[:0]
	for _, t := range ch.retired {
		removed := time.Unix(0, t.removedAt.Load())
		if time.Since(removed) < grace {
			kept = append(kept, t)
			continue
		}
		t.close()
		if first := t.firstHit.Load(); first != 0 {
			ch.addLag = append(ch.addLag, time.Unix(0, first).Sub(t.added))
		} else {
			ch.unreached++
		}
		ch.lateHits += t.lateHits.Load()
		if last := t.lastLate.Load(); last != 0 {
			ch.lateMax = max(ch.lateMax, time.Unix(0, last).Sub(removed))
		}
	}
	ch.retired = kept
}

func (ch *churner) report() {
	fmt.Printf("churn: %s of churn, one operation every %s: %d adds, %d removes, %d failed operations\n",
		ch.cfg.duration, ch.cfg.interval, ch.adds, ch.removes, len(ch.failed))
	for i, err := range ch.failed {
		if i == 5 {
			fmt.Printf("churn:   ... %d more\n", len(ch.failed)-5)
			break
		}
		fmt.Println("churn:   failed:", err)
	}
	fmt.Printf("churn: add propagation, POST acknowledged -> first proxied request at the new target: %s\n", ch.addLag)
	fmt.Printf("churn: added targets never reached before removal: %d\n", ch.unreached)
	fmt.Printf("churn: POST target round trip: %s\n", ch.addRTT)
	fmt.Printf("churn: DELETE target round trip: %s\n", ch.delRTT)
	fmt.Printf("churn: requests reaching a target after its DELETE was acknowledged: %d (latest %s after)\n", ch.lateHits, ms(max(ch.lateMax, 0)))
}

// churnTarget is a runtime target served by the driver itself, so it
// knows when proxied requests reach it.
type churnTarget struct {
	addr      string
	srv       *http.Server
	added     time.Time
	removedAt atomic.Int64 // unix ns of the DELETE acknowledgement
	firstHit  atomic.Int64 // unix ns
	lastLate  atomic.Int64 // unix ns of the latest request after removedAt
	lateHits  atomic.Int64
}

// probePath is the active health checks' http_path in bench/run.sh's
// churn config: probes are not proxied requests and are not counted.
const probePath = "/healthz"

func listenChurnTarget() (*churnTarget, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	t := &churnTarget{addr: ln.Addr().String()}
	t.srv = &http.Server{Handler: t, ReadHeaderTimeout: 5 * time.Second}
	go t.srv.Serve(ln)
	return t, nil
}

// ServeHTTP answers 200 and records the time of the request.
func (t *churnTarget) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if r.URL.Path == probePath {
		w.Write([]byte("ok\n"))
		return
	}
	now := time.Now().UnixNano()
	t.firstHit.CompareAndSwap(0, now)
	if removed := t.removedAt.Load(); removed != 0 && now > removed {
		t.lateHits.Add(1)
		t.lastLate.Store(now)
	}
	w.Write([]byte("ok\n"))
}

func (t *churnTarget) close() { t.srv.Close() }
