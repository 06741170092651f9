package main

import (
	"fmt"
	"net"
	"strconv"
	"time"
)

// killReport is what happened to the killed backend, relative to the kill
// and the restart.
type killReport struct {
	done            chan struct{}
	target          string
	killedAt        time.Duration // since the churn started
	unhealthyAfter  time.Duration // kill -> the Admin API shows it UNHEALTHY; 0 if never seen
	restartedAt     time.Duration
	firstAfter      time.Duration // restart -> first proxied request; 0 if none
	healthyAfter    time.Duration // restart -> HEALTHY again; 0 if never seen
	restartFailures error
}

// killAndRestart kills the victim at killAt, starts it again downFor
// later, and watches its health through the Admin API.
func (ch *churner) killAndRestart(v *killable, rep *killReport) {
	defer close(rep.done)
	rep.target = net.JoinHostPort("127.0.0.1", strconv.Itoa(v.port))
	time.Sleep(time.Until(ch.start.Add(ch.cfg.killAt)))
	killed := time.Now()
	v.kill()
	rep.killedAt = killed.Sub(ch.start)
	restartAt := killed.Add(ch.cfg.downFor)
	if ch.waitHealth(rep.target, "UNHEALTHY", restartAt) {
		rep.unhealthyAfter = time.Since(killed)
	}
	time.Sleep(time.Until(restartAt))
	restarted := time.Now()
	if rep.restartFailures = v.start(); rep.restartFailures != nil {
		return
	}
	rep.restartedAt = restarted.Sub(ch.start)
	healthy := make(chan time.Duration, 1)
	go func() {
		if ch.waitHealth(rep.target, "HEALTHY", restarted.Add(10*time.Second)) {
			healthy <- time.Since(restarted)
		}
		close(healthy)
	}()
	if t, ok := v.firstRequest(10 * time.Second); ok {
		rep.firstAfter = t.Sub(restarted)
	}
	rep.healthyAfter = <-healthy
}

// waitHealth polls the upstream's health every 10 ms until target shows
// want or the deadline passes.
func (ch *churner) waitHealth(target, want string, deadline time.Time) bool {
	for time.Now().Before(deadline) {
		var page struct {
			Data []struct {
				Target string `json:"target"`
				Health string `json:"health"`
			} `json:"data"`
		}
		if err := ch.kong.do("GET", "/upstreams/"+ch.cfg.upstream+"/health?size=1000", nil, 200, &page); err == nil {
			for _, t := range page.Data {
				if t.Target == target && t.Health == want {
					return true
				}
			}
		}
		time.Sleep(10 * time.Millisecond)
	}
	return false
}

// wait reports whether the kill and restart finished within timeout.
func (rep *killReport) wait(timeout time.Duration) bool {
	select {
	case <-rep.done:
		return true
	case <-time.After(timeout):
		return false
	}
}

func (rep *killReport) print() {
	if rep.restartFailures != nil {
		fmt.Println("kill: restarting the backend failed:", rep.restartFailures)
		return
	}
	fmt.Printf("kill: backend %s killed (SIGKILL) at +%.1fs: UNHEALTHY in the Admin API after %s\n",
		rep.target, rep.killedAt.Seconds(), seen(rep.unhealthyAfter))
	fmt.Printf("kill: restarted at +%.1fs: first proxied request after %s, HEALTHY after %s\n",
		rep.restartedAt.Seconds(), seen(rep.firstAfter), seen(rep.healthyAfter))
}

func seen(d time.Duration) string {
	if d == 0 {
		return "(not seen)"
	}
	return ms(d)
}
