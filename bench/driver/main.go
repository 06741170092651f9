// Command driver is the Admin API side of the benchmarks (bench/run.sh
// runs it): it talks to a Caddy with the caddy-upstreams modules through
// the Kong Admin API, on 127.0.0.1 only, and prints what it measured.
//
//	driver churn -admin http://127.0.0.1:12019/kong -upstream churn -duration 60s ...
//	driver scale -admin http://127.0.0.1:12019/kong -caddy-admin http://127.0.0.1:12019 -pid 1234 ...
//
// churn adds and removes targets of a live upstream while wrk drives it,
// kills and restarts one backend, and reports propagation times; scale
// creates many upstreams and targets and reports creation rate, memory
// per target and list-page times. Every loop is bounded in time.
package main

import (
	"fmt"
	"os"
)

func main() {
	if len(os.Args) < 2 {
		fmt.Fprintln(os.Stderr, "usage: driver churn|scale [flags]")
		os.Exit(2)
	}
	var err error
	switch os.Args[1] {
	case "churn":
		err = runChurn(os.Args[2:])
	case "scale":
		err = runScale(os.Args[2:])
	default:
		err = fmt.Errorf("unknown subcommand %q (churn, scale)", os.Args[1])
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "driver:", err)
		os.Exit(1)
	}
}
