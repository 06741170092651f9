#!/usr/bin/env bash
# Benchmarks and soak of caddy-upstreams against Caddy's static
# reverse_proxy and nginx, in one run on this machine (see BENCHMARKS.md).
#
#   bash bench/run.sh                 # full run: throughput N=2,100,1000; kong; 60 s churn; 10 000 x 10 scale
#   bash bench/run.sh --only kong --rounds 5 --duration 5
#   bash bench/run.sh --quick         # a few minutes: shorter runs, N=2,100, 1 000 upstreams
#   bash bench/run.sh --only churn --churn-duration 20
#   bash bench/run.sh --only scale --scale-upstreams 100000 --scale-targets 1
#   bash bench/run.sh --smoke         # ~30 s: every phase once, tiny
#
# Phases:
#   throughput  per N: local backends, Caddy with a registry upstream of N
#               targets, Caddy with a static reverse_proxy of the same N
#               targets, nginx with an upstream block of them; wrk drives
#               each for a fixed time and connection count, rounds
#               interleaved A B C C B A A B C ... to cancel drift, plus one
#               run per round with both Caddys loaded at once; prints
#               requests/s, p50/p99, the ratios registry/static and
#               registry/nginx, and each proxy's CPU time per request.
#   kong        the seed's kong.yaml (two targets, route /api with
#               strip_path) through kong_proxy, as `make run` serves it,
#               against the same seed with Caddy's static reverse_proxy and
#               with nginx, the same upstream headers in all three;
#               rounds interleaved; plus kong_proxy with 1 000 more routes
#               and with 1 000 more upstreams (a random one per request,
#               made by wrk Lua, compared also with the seed driven by the
#               same kind of Lua script), and these again in 12
#               alternating slices of 2 s (flatness with the machine's
#               drift kept out), also with the requests spread over 10 of
#               the 1 000 upstreams only (config size apart from the spread
#               of traffic); prints requests/s, the ratios, CPU time per request,
#               p50/p99. --baseline-caddy BIN adds the seed on another
#               binary (e.g. main's), for before/after in the same run.
#   churn       wrk against a registry upstream while the driver adds or
#               removes a target through the Admin API every 50 ms and kills
#               (SIGKILL) and restarts one backend; prints non-2xx
#               responses, socket errors and propagation times.
#   scale       10 000 upstreams x 10 targets (--scale-upstreams,
#               --scale-targets) created through the Admin
#               API; prints creation rates, memory per target, time per
#               list page of 1 000; then selection among them through the
#               proxy (wrk, a random upstream per request vs one upstream)
#               and the Go benchmark of a pick in such a registry.
#
# Everything listens on 127.0.0.1. The proxy under test is pinned to CPU 0
# and wrk, the backends and the driver to CPU 1 (--no-pin to not pin);
# nginx runs one worker and Caddy one P (GOMAXPROCS follows the pinning).
# Installs nginx and wrk with apt-get when missing. Outputs (binaries,
# logs, raw wrk output, results.md) go to bench/out/ (gitignored). Any
# non-2xx response, socket error or failed Admin API operation makes the
# run exit 1.
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$(pwd)

DURATION=10 CONNS=64 THREADS=1 ROUNDS=4 NS="2 100 1000"
CHURN=60 SCALE_UPSTREAMS=10000 SCALE_TARGETS=10 PHASES="throughput kong churn scale"
KONG_ROUTES=1000 BASELINE_CADDY="" FLAT_SLICES=12 FLAT_SECONDS=2
PIN=1 PROFILE=0 ARGS="$*" BENCHTIME=1s
OUT=${BENCH_OUT:-$ROOT/bench/out}
BACKEND_PORT=21000 VICTIM_PORT=22990
REG_PORT=18080 STATIC_PORT=18081 NGINX_PORT=18082 REG_ADMIN=12019 STATIC_ADMIN=12020

usage() {
	sed -n '2,/^set -euo/p' "$0" | sed '$d; s/^# \{0,1\}//'
	cat <<EOF
Flags:
  --duration S          seconds per wrk run (default $DURATION)
  --connections C       wrk connections (default $CONNS)
  --threads T           wrk threads (default $THREADS)
  --rounds R            rounds per N, each runs every proxy once (default $ROUNDS)
  --n "LIST"            target counts (default "$NS")
  --churn-duration S    churn soak length (default $CHURN)
  --scale-upstreams U   upstreams of the scale phase (default $SCALE_UPSTREAMS)
  --scale-targets T     targets per upstream in the scale phase (default $SCALE_TARGETS; e.g.
                        --scale-upstreams 100000 --scale-targets 1)
  --only "PHASES"       some of: throughput kong churn scale
  --kong-routes K       routes, and upstreams, of the kong phase's large configurations (default $KONG_ROUTES)
  --baseline-caddy BIN  the kong phase also runs the seed on this Caddy binary (e.g. main's), interleaved
  --quick               --duration 3 --rounds 2 --n "2 100" --churn-duration 10 --scale-upstreams 1000, 4 flatness slices
  --smoke               --duration 1 --rounds 1 --n 2 --churn-duration 6 --scale-upstreams 50, 2 flatness slices of 1 s
  --profile             save CPU profiles of both Caddys during the first side-by-side run per N, and of
                        kong_proxy on the seed, with +K routes and with +K upstreams during an extra run each before the
                        kong phase's rounds (bench/out/*.cpu.pprof; compare them with
                        go tool pprof -top -diff_base bench/out/kong.cpu.pprof bench/out/kong-upstreams.cpu.pprof)
  --no-pin              do not pin processes to CPUs
EOF
}

while [[ $# -gt 0 ]]; do
	case $1 in
	--duration) DURATION=$2; shift ;;
	--connections) CONNS=$2; shift ;;
	--threads) THREADS=$2; shift ;;
	--rounds) ROUNDS=$2; shift ;;
	--n) NS=$2; shift ;;
	--churn-duration) CHURN=$2; shift ;;
	--scale-upstreams) SCALE_UPSTREAMS=$2; shift ;;
	--scale-targets) SCALE_TARGETS=$2; shift ;;
	--only) PHASES=$2; shift ;;
	--kong-routes) KONG_ROUTES=$2; shift ;;
	--baseline-caddy) BASELINE_CADDY=$(realpath "$2"); shift ;;
	--quick) DURATION=3 ROUNDS=2 NS="2 100" CHURN=10 SCALE_UPSTREAMS=1000 FLAT_SLICES=4 ;;
	--smoke) DURATION=1 ROUNDS=1 NS=2 CHURN=6 SCALE_UPSTREAMS=50 BENCHTIME=1000x FLAT_SLICES=2 FLAT_SECONDS=1 ;;
	--profile) PROFILE=1 ;;
	--no-pin) PIN=0 ;;
	-h | --help) usage; exit 0 ;;
	*) echo "unknown flag $1" >&2; usage >&2; exit 2 ;;
	esac
	shift
done

log() { echo "bench: $*" >&2; }

# FAILURES counts errors seen by any phase (non-2xx, socket errors, failed
# Admin API operations): the run exits 1 when there were any.
FAILURES=0
failed() {
	log "FAILED: $*"
	FAILURES=$((FAILURES + 1))
}

# ---- tools and binaries ----

need_tools() {
	local missing=()
	command -v nginx >/dev/null || missing+=(nginx)
	command -v wrk >/dev/null || missing+=(wrk)
	command -v curl >/dev/null || missing+=(curl)
	if [[ ${#missing[@]} -gt 0 ]]; then
		log "installing ${missing[*]} with apt-get"
		local sudo=""
		[[ $(id -u) -eq 0 ]] || sudo=sudo
		$sudo apt-get update -qq
		$sudo env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}" >/dev/null
	fi
}

build() {
	mkdir -p "$OUT/bin" "$OUT/logs" "$OUT/conf" "$OUT/raw"
	log "building caddy, backend, driver into $OUT/bin"
	go build -o "$OUT/bin/caddy" ./cmd/caddy
	go build -o "$OUT/bin/backend" ./bench/backend
	go build -o "$OUT/bin/driver" ./bench/driver
}

# ---- processes ----

PIDS=()
cleanup() {
	local pid
	for pid in "${PIDS[@]}"; do
		kill "$pid" 2>/dev/null || true
	done
	for pid in "${PIDS[@]}"; do
		wait "$pid" 2>/dev/null || true
	done
	PIDS=()
}
trap cleanup EXIT

# on CPU: run a command pinned to a CPU (0: proxy, 1: load and backends).
on_cpu() {
	local cpu=$1
	shift
	if [[ $PIN -eq 1 && $(nproc) -ge 2 ]]; then
		exec taskset -c "$cpu" "$@"
	fi
	exec "$@"
}

# start NAME CPU CMD...: starts a background process logging to
# $OUT/logs/NAME.log; its pid is in $LAST_PID.
start() {
	local name=$1 cpu=$2
	shift 2
	(on_cpu "$cpu" "$@") >"$OUT/logs/$name.log" 2>&1 &
	LAST_PID=$!
	PIDS+=("$LAST_PID")
}

# wait_http URL: waits up to 20 s for URL to answer (any status).
wait_http() {
	local i
	for ((i = 0; i < 200; i++)); do
		if curl -s -o /dev/null --max-time 1 "$1"; then
			return 0
		fi
		sleep 0.1
	done
	log "$1 did not come up"
	return 1
}

# wait_line FILE TEXT: waits up to 20 s for TEXT in FILE.
wait_line() {
	local i
	for ((i = 0; i < 200; i++)); do
		grep -q "$2" "$1" 2>/dev/null && return 0
		sleep 0.1
	done
	log "no '$2' in $1"
	return 1
}

# ports_free PORT...: fails if something listens on a port already (Caddy
# listens with SO_REUSEPORT, so a stale process would silently share it).
ports_free() {
	local p
	for p in "$@"; do
		if (exec 3<>"/dev/tcp/127.0.0.1/$p") 2>/dev/null; then
			log "port $p is in use; stop what listens there (ss -ltnp | grep :$p)"
			exit 1
		fi
	done
}

# caddy_start NAME CADDYFILE [BINARY]: starts Caddy on CPU 0 with its data and
# config directories under $OUT/data/NAME and waits until every app has
# started (the http app listens before the upstreams app has applied the
# declared upstreams); pid in $LAST_PID.
caddy_start() {
	local name=$1 conf=$2 bin=${3:-$OUT/bin/caddy}
	rm -rf "$OUT/data/$name"
	mkdir -p "$OUT/data/$name"
	start "$name" 0 env XDG_DATA_HOME="$OUT/data/$name" XDG_CONFIG_HOME="$OUT/data/$name" \
		"$bin" run --adapter caddyfile --config "$conf"
	wait_line "$OUT/logs/$name.log" '"serving initial configuration"'
	grep -m1 -o '"msg":"upstreams registry ready"[^}]*' "$OUT/logs/$name.log" >&2 || true
}

backend_start() { # backend_start NAME BASE N
	start "$1" 1 "$OUT/bin/backend" -base "$2" -n "$3"
	wait_line "$OUT/logs/$1.log" ready
}

# ---- configurations ----

# targets_lines N PREFIX [SUFFIX]: one "PREFIX 127.0.0.1:port[SUFFIX]" line per backend port.
targets_lines() {
	local i
	for ((i = 0; i < $1; i++)); do
		echo "$2 127.0.0.1:$((BACKEND_PORT + i))${3:-}"
	done
}

registry_caddyfile() { # registry_caddyfile N UPSTREAM_BLOCK_EXTRA PROXY_EXTRA
	cat <<EOF
{
	admin 127.0.0.1:$REG_ADMIN
	persist_config off
	upstreams {
		store bolt $OUT/data/registry/upstreams.db
		upstream bench {
$(targets_lines "$1" "			target" " 100")
$2
		}
	}
}
http://127.0.0.1:$REG_PORT {
	bind 127.0.0.1
	reverse_proxy {
		dynamic registry bench
		lb_policy registry
$3
	}
}
EOF
}

static_caddyfile() { # static_caddyfile N
	cat <<EOF
{
	admin 127.0.0.1:$STATIC_ADMIN
	persist_config off
}
http://127.0.0.1:$STATIC_PORT {
	bind 127.0.0.1
	reverse_proxy {
$(targets_lines "$1" "		to")
		lb_policy round_robin
	}
}
EOF
}

# nginx_conf N [SERVER_BODY]: nginx with one worker and an upstream "bench"
# of N targets; SERVER_BODY (default: proxy everything to bench) goes in
# the server block.
nginx_conf() {
	local body=${2:-"		location / {
			proxy_pass http://bench;
			proxy_http_version 1.1;
			proxy_set_header Connection \"\";
		}"}
	mkdir -p "$OUT/nginx"
	cat <<EOF
worker_processes 1;
daemon off;
pid $OUT/nginx/nginx.pid;
error_log $OUT/logs/nginx-error.log warn;
events { worker_connections 4096; }
http {
	access_log off;
	client_body_temp_path $OUT/nginx/body;
	proxy_temp_path $OUT/nginx/proxy;
	fastcgi_temp_path $OUT/nginx/fastcgi;
	uwsgi_temp_path $OUT/nginx/uwsgi;
	scgi_temp_path $OUT/nginx/scgi;
	upstream bench {
$(targets_lines "$1" "		server" ";")
		keepalive 1024;
	}
	server {
		listen 127.0.0.1:$NGINX_PORT;
$body
	}
}
EOF
}

# ---- wrk ----

# wrk_run RAWFILE DURATION URL [wrk args...]: runs wrk on CPU 1.
wrk_run() {
	local raw=$1 dur=$2 url=$3
	shift 3
	(on_cpu 1 wrk -t"$THREADS" -c"$CONNS" -d"${dur}s" --latency "$@" "$url") >"$raw" 2>&1
}

# wrk_parse RAWFILE: prints "rps p50_us p99_us non2xx socket_errors requests".
wrk_parse() {
	awk '
	function us(v) { if (v ~ /us$/) return v + 0; if (v ~ /ms$/) return v * 1000; if (v ~ /s$/) return v * 1000000; return v + 0 }
	/Requests\/sec/ { rps = $2 }
	/^ +50%/ { p50 = us($2) }
	/^ +99%/ { p99 = us($2) }
	/Non-2xx/ { bad = $NF }
	/Socket errors/ { gsub(/,/, ""); sock = $4 + $6 + $8 + $10 }
	/ requests in / { reqs = $1 }
	END { printf "%.0f %.0f %.0f %d %d %d\n", rps, p50, p99, bad, sock, reqs }' "$1"
}

# AWK_MEDIAN defines median(a, n) over a[1..n] (mawk has no asort); it also
# sets lo and hi to the extremes.
AWK_MEDIAN='
function median(a, n,    i, j, t, b) {
	for (i = 1; i <= n; i++) b[i] = a[i]
	for (i = 2; i <= n; i++) for (j = i; j > 1 && b[j - 1] > b[j]; j--) { t = b[j]; b[j] = b[j - 1]; b[j - 1] = t }
	lo = b[1]; hi = b[n]
	return n % 2 ? b[(n + 1) / 2] : (b[n / 2] + b[n / 2 + 1]) / 2
}'

# AWK_RATIO: ratio(a, b, cpu) is the median (min–max) over the rounds of
# a's req/s over b's (cpu 0), or of b's CPU per request over a's (cpu 1),
# from round[system, r] (req/s) and cpur[system, r] (CPU ticks per
# request); needs AWK_MEDIAN.
AWK_RATIO='
function ratio(a, b, cpu,    r, v, m) {
	for (r = 1; r <= rounds; r++) v[r] = cpu ? (cpur[a, r] ? cpur[b, r] / cpur[a, r] : 0) : (round[b, r] ? round[a, r] / round[b, r] : 0)
	m = median(v, rounds)
	return sprintf("%.3f (%.3f–%.3f)", m, lo, hi)
}'

RESULTS=$OUT/results.md
result() { echo "$*" | tee -a "$RESULTS"; }

# ---- phase 1: throughput ----

phase_throughput() {
	result ""
	result "## Throughput: wrk -t$THREADS -c$CONNS -d${DURATION}s, $ROUNDS rounds interleaved, round-robin everywhere"
	result ""
	result "Requests/s and latencies: means over the rounds of each proxy run alone. Ratios: median (min–max) of the"
	result "per-round ratios. \"Side by side\": both Caddys loaded at once on the same CPU, once per round. CPU/request:"
	result "the proxy's user+system CPU time over the requests it served (all its runs)."
	result ""
	result "| N | registry req/s | static req/s | nginx req/s | registry/static | registry/static side by side | registry/nginx | CPU µs/request reg / static / nginx | static/registry CPU | p50 reg / static / nginx (µs) | p99 reg / static / nginx (µs) | errors |"
	result "|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|"
	local n
	for n in $NS; do
		throughput_n "$n"
	done
}

# cpu_ticks PID: user+system CPU time of a process and its children's
# threads (nginx's worker), in clock ticks.
cpu_ticks() {
	local pid total=0 f
	for pid in "$1" $(pgrep -P "$1" || true); do
		# fields after the command name, which is in parentheses
		f=$(sed 's/^.*) //' "/proc/$pid/stat" 2>/dev/null) || continue
		set -- $f
		total=$((total + ${12} + ${13}))
	done
	echo "$total"
}

# measured RAW SYS ROUND PID LABEL: appends "LABEL ROUND <wrk figures>
# <cpu ticks>" to the round file, CPU ticks counted since $TICKS0.
measured() {
	local raw=$1 round=$2 pid=$3 label=$4
	echo "$label $round $(wrk_parse "$raw") $(($(cpu_ticks "$pid") - TICKS0[$label]))" | tee -a "$ROUNDS_FILE" >&2
}

throughput_n() {
	local n=$1 sys r order
	log "throughput N=$n"
	registry_caddyfile "$n" "" "" >"$OUT/conf/registry-$n.caddyfile"
	static_caddyfile "$n" >"$OUT/conf/static-$n.caddyfile"
	nginx_conf "$n" >"$OUT/conf/nginx-$n.conf"
	backend_start "backend-$n" "$BACKEND_PORT" "$n"
	local -A urls=([registry]=http://127.0.0.1:$REG_PORT/ [static]=http://127.0.0.1:$STATIC_PORT/ [nginx]=http://127.0.0.1:$NGINX_PORT/)
	local -A pids
	caddy_start registry "$OUT/conf/registry-$n.caddyfile"
	pids[registry]=$LAST_PID
	caddy_start static "$OUT/conf/static-$n.caddyfile"
	pids[static]=$LAST_PID
	start nginx 0 nginx -c "$OUT/conf/nginx-$n.conf" -p "$OUT/nginx"
	pids[nginx]=$LAST_PID
	for sys in registry static nginx; do
		wait_http "${urls[$sys]}"
		wrk_run "$OUT/raw/warmup-$sys-$n.txt" 1 "${urls[$sys]}" # warm connections and caches
	done
	ROUNDS_FILE=$OUT/raw/throughput-$n.txt
	: >"$ROUNDS_FILE"
	declare -gA TICKS0
	for ((r = 1; r <= ROUNDS; r++)); do
		order="registry static nginx"
		((r % 2 == 0)) && order="nginx static registry"
		for sys in $order; do
			TICKS0[$sys]=$(cpu_ticks "${pids[$sys]}")
			wrk_run "$OUT/raw/wrk-$sys-$n-$r.txt" "$DURATION" "${urls[$sys]}"
			measured "$OUT/raw/wrk-$sys-$n-$r.txt" "$r" "${pids[$sys]}" "$sys"
		done
		# side by side: both Caddys loaded at once share CPU 0 and whatever
		# else runs on the machine.
		if [[ $PROFILE -eq 1 && $r -eq 1 ]]; then
			curl -s -o "$OUT/registry-$n.cpu.pprof" "http://127.0.0.1:$REG_ADMIN/debug/pprof/profile?seconds=$DURATION" &
			curl -s -o "$OUT/static-$n.cpu.pprof" "http://127.0.0.1:$STATIC_ADMIN/debug/pprof/profile?seconds=$DURATION" &
		fi
		for sys in registry static; do
			TICKS0[pair-$sys]=$(cpu_ticks "${pids[$sys]}")
			wrk_run "$OUT/raw/wrk-pair-$sys-$n-$r.txt" "$DURATION" "${urls[$sys]}" &
		done
		wait_jobs
		for sys in registry static; do
			measured "$OUT/raw/wrk-pair-$sys-$n-$r.txt" "$r" "${pids[$sys]}" "pair-$sys"
		done
	done
	wait_jobs
	cleanup
	# fields: system round rps p50 p99 non2xx socket_errors requests cpu_ticks
	awk -v n="$n" -v hz="$(getconf CLK_TCK)" "$AWK_MEDIAN"'
	{
		rps[$1] += $3; c[$1]++; p50[$1] += $4; p99[$1] += $5; err += $6 + $7; round[$1, $2] = $3
		if ($2 + 0 > rounds) rounds = $2 + 0
		sub(/^pair-/, "", $1); reqs[$1] += $8; ticks[$1] += $9
	}
	END {
		for (s in rps) { rps[s] /= c[s]; p50[s] /= c[s]; p99[s] /= c[s] }
		for (s in reqs) cpu[s] = reqs[s] ? ticks[s] / hz / reqs[s] * 1e6 : 0
		for (r = 1; r <= rounds; r++) {
			vs[r] = round["registry", r] / round["static", r]; vn[r] = round["registry", r] / round["nginx", r]
			vp[r] = round["pair-registry", r] / round["pair-static", r]
		}
		ms = median(vs, rounds); mslo = lo; mshi = hi
		mp = median(vp, rounds); mplo = lo; mphi = hi
		mn = median(vn, rounds); mnlo = lo; mnhi = hi
		printf "| %d | %.0f | %.0f | %.0f | %.3f (%.3f–%.3f) | %.3f (%.3f–%.3f) | %.3f (%.3f–%.3f) | %.1f / %.1f / %.1f | %.3f | %.0f / %.0f / %.0f | %.0f / %.0f / %.0f | %d |\n",
			n, rps["registry"], rps["static"], rps["nginx"],
			ms, mslo, mshi, mp, mplo, mphi, mn, mnlo, mnhi,
			cpu["registry"], cpu["static"], cpu["nginx"], cpu["registry"] ? cpu["static"] / cpu["registry"] : 0,
			p50["registry"], p50["static"], p50["nginx"], p99["registry"], p99["static"], p99["nginx"], err
	}' "$ROUNDS_FILE" | tee -a "$RESULTS"
	local errors
	errors=$(awk '{ e += $6 + $7 } END { print e + 0 }' "$ROUNDS_FILE")
	[[ $errors -eq 0 ]] || failed "throughput N=$n: $errors non-2xx responses or socket errors"
}

# wait_jobs waits for background jobs that are not long-running servers
# (profile downloads).
wait_jobs() {
	local j
	for j in $(jobs -p); do
		[[ " ${PIDS[*]} " == *" $j "* ]] || wait "$j" || true
	done
}

# ---- phase 2: kong ----

# kong_yaml ROUTES UPSTREAMS: the seed's kong.yaml (../shared/seed-kong.yaml)
# with its two targets on the first two backend ports, plus ROUTES more
# routes of the seed's service (/r0000 … with strip_path) and UPSTREAMS
# more services, each with its route (/u0000 …) and its upstream of the
# same two targets.
kong_yaml() {
	local routes=$1 ups=$2 i name
	local targets="    targets:
      - target: 127.0.0.1:$BACKEND_PORT
        weight: 100
      - target: 127.0.0.1:$((BACKEND_PORT + 1))
        weight: 100"
	cat <<EOF
_format_version: "3.0"
services:
  - name: Upstream-Example
    host: upstream-example
    port: 80
    protocol: http
    path: /
    routes:
      - name: Upstream-example
        paths:
          - /api
        strip_path: true
EOF
	for ((i = 0; i < routes; i++)); do
		printf '      - name: r%04d\n        paths:\n          - /r%04d\n        strip_path: true\n' "$i" "$i"
	done
	for ((i = 0; i < ups; i++)); do
		printf -v name 'u%04d' "$i"
		printf '  - name: %s\n    host: %s\n    path: /\n    routes:\n      - name: %s\n        paths:\n          - /%s\n        strip_path: true\n' \
			"$name" "$name" "$name" "$name"
	done
	printf 'upstreams:\n  - name: upstream-example\n    algorithm: round-robin\n%s\n' "$targets"
	for ((i = 0; i < ups; i++)); do
		printf '  - name: u%04d\n    algorithm: round-robin\n%s\n' "$i" "$targets"
	done
}

# kong_caddyfile NAME PORT ADMIN: Caddy serving NAME's kong.yaml with
# kong_proxy, as `make run` serves the seed.
kong_caddyfile() {
	cat <<EOF
{
	admin 127.0.0.1:$3
	persist_config off
	upstreams {
		store bolt $OUT/data/$1/upstreams.db
		declarative_config $OUT/conf/$1.yaml
	}
}
http://127.0.0.1:$2 {
	bind 127.0.0.1
	kong_proxy
}
EOF
}

# kong_static_caddyfile: the seed written for Caddy's static reverse_proxy,
# sending the headers kong_proxy sends (X-Forwarded-Port, -Path, -Prefix,
# X-Real-IP, a request id both ways; reverse_proxy adds X-Forwarded-For,
# -Proto, -Host in both), with the target's host:port as Host, as Kong.
kong_static_caddyfile() {
	cat <<EOF
{
	admin 127.0.0.1:$STATIC_ADMIN
	persist_config off
}
http://127.0.0.1:$STATIC_PORT {
	bind 127.0.0.1
	handle_path /api* {
		reverse_proxy 127.0.0.1:$BACKEND_PORT 127.0.0.1:$((BACKEND_PORT + 1)) {
			lb_policy round_robin
			header_up Host {upstream_hostport}
			header_up X-Real-IP {client_ip}
			header_up X-Forwarded-Port {http.request.port}
			header_up X-Forwarded-Path {http.request.orig_uri.path}
			header_up X-Forwarded-Prefix /api
			header_up X-Kong-Request-Id {http.request.uuid}
			header_down X-Kong-Request-Id {http.request.uuid}
		}
	}
}
EOF
}

# kong_nginx_server: the same for nginx (its \$request_id is 32 hex digits,
# as Kong's; Host stays nginx's default, the upstream block's name).
kong_nginx_server() {
	cat <<'EOF'
		location /api/ {
			proxy_pass http://bench/;
			proxy_http_version 1.1;
			proxy_set_header Connection "";
			proxy_set_header X-Real-IP $remote_addr;
			proxy_set_header X-Forwarded-For $proxy_add_x_forwarded_for;
			proxy_set_header X-Forwarded-Proto $scheme;
			proxy_set_header X-Forwarded-Host $host;
			proxy_set_header X-Forwarded-Port $server_port;
			proxy_set_header X-Forwarded-Path $uri;
			proxy_set_header X-Forwarded-Prefix /api;
			proxy_set_header X-Kong-Request-Id $request_id;
			add_header X-Kong-Request-Id $request_id;
		}
EOF
}

# kong_lua PREFIX: a wrk script asking for /<PREFIX><random 0000-0999>/get.
# kong_lua_seed: a wrk Lua script that builds every request as kong_lua's
# do but always asks for the seed's route, so that the large
# configurations are compared with the seed under the same load generator.
kong_lua_seed() {
	cat <<EOF
math.randomseed(os.time())
request = function()
	return wrk.format(nil, string.format("/api/%s", "get"))
end
EOF
}

kong_lua() { # kong_lua PREFIX [N]: among the first N (default all KONG_ROUTES)
	cat <<EOF
math.randomseed(os.time())
request = function()
	return wrk.format(nil, string.format("/$1%04d/get", math.random(0, $((${2:-$KONG_ROUTES} - 1)))))
end
EOF
}

# phase_kong: the seed the Kong way (kong_proxy, as `make run`) against
# the same seed with Caddy's static reverse_proxy and with nginx, the same
# two backends and upstream headers, in interleaved rounds; plus kong_proxy
# with KONG_ROUTES more routes and with KONG_ROUTES more upstreams (a
# random one per request), and optionally a baseline Caddy binary with the
# seed (--baseline-caddy), so that before/after come from the same run.
phase_kong() {
	log "kong: seed through kong_proxy, static reverse_proxy, nginx; $KONG_ROUTES routes, $KONG_ROUTES upstreams"
	kong_yaml 0 0 >"$OUT/conf/kong.yaml"
	kong_yaml "$KONG_ROUTES" 0 >"$OUT/conf/kong-routes.yaml"
	kong_yaml 0 "$KONG_ROUTES" >"$OUT/conf/kong-upstreams.yaml"
	cp "$OUT/conf/kong.yaml" "$OUT/conf/kong-base.yaml"
	kong_lua r >"$OUT/conf/kong-routes.lua"
	kong_lua u >"$OUT/conf/kong-upstreams.lua"
	kong_lua u 10 >"$OUT/conf/kong-upstreams-hot.lua"
	kong_lua_seed >"$OUT/conf/kong-lua.lua"
	kong_static_caddyfile >"$OUT/conf/kong-static.caddyfile"
	nginx_conf 2 "$(kong_nginx_server)" >"$OUT/conf/kong-nginx.conf"
	local -A port=([kong]=18083 [kong-routes]=18084 [kong-upstreams]=18085 [kong-base]=18086 [static]=$STATIC_PORT [nginx]=$NGINX_PORT)
	local -A admin=([kong]=12021 [kong-routes]=12022 [kong-upstreams]=12023 [kong-base]=12024)
	local -A lua=([kong-routes]=$OUT/conf/kong-routes.lua [kong-upstreams]=$OUT/conf/kong-upstreams.lua [kong-lua]=$OUT/conf/kong-lua.lua
		[kong-upstreams-hot]=$OUT/conf/kong-upstreams-hot.lua)
	local -A pids
	local systems="kong static nginx" sys r order
	[[ -n $BASELINE_CADDY ]] && systems+=" kong-base"
	systems+=" kong-lua kong-routes kong-upstreams"
	ports_free "${port[@]}" "${admin[@]}"
	backend_start backend-kong "$BACKEND_PORT" 2
	for sys in kong kong-routes kong-upstreams kong-base; do
		[[ $sys == kong-base && -z $BASELINE_CADDY ]] && continue
		kong_caddyfile "$sys" "${port[$sys]}" "${admin[$sys]}" >"$OUT/conf/$sys.caddyfile"
		caddy_start "$sys" "$OUT/conf/$sys.caddyfile" "$([[ $sys == kong-base ]] && echo "$BASELINE_CADDY")"
		pids[$sys]=$LAST_PID
	done
	port[kong-lua]=${port[kong]} admin[kong-lua]=${admin[kong]} pids[kong-lua]=${pids[kong]}
	port[kong-upstreams-hot]=${port[kong-upstreams]} pids[kong-upstreams-hot]=${pids[kong-upstreams]}
	caddy_start static "$OUT/conf/kong-static.caddyfile"
	pids[static]=$LAST_PID
	start nginx 0 nginx -c "$OUT/conf/kong-nginx.conf" -p "$OUT/nginx"
	pids[nginx]=$LAST_PID
	local -A url
	for sys in $systems; do
		url[$sys]=http://127.0.0.1:${port[$sys]}/api/get
		wait_http "${url[$sys]}"
		wrk_run "$OUT/raw/warmup-kong-$sys.txt" 2 "${url[$sys]}" ${lua[$sys]:+-s "${lua[$sys]}"}
	done
	ROUNDS_FILE=$OUT/raw/kong.txt
	: >"$ROUNDS_FILE"
	declare -gA TICKS0
	local reversed
	reversed=$(echo "$systems" | tr ' ' '\n' | tac | tr '\n' ' ')
	for ((r = 1; r <= ROUNDS; r++)); do
		order=$systems
		((r % 2 == 0)) && order=$reversed
		if [[ $PROFILE -eq 1 && $r -eq 1 ]]; then
			for sys in kong kong-routes kong-upstreams; do
				curl -s -o "$OUT/$sys.cpu.pprof" "http://127.0.0.1:${admin[$sys]}/debug/pprof/profile?seconds=$DURATION" &
				wrk_run "$OUT/raw/wrk-$sys-profile.txt" "$DURATION" "${url[$sys]}" ${lua[$sys]:+-s "${lua[$sys]}"}
				wait_jobs
			done
		fi
		for sys in $order; do
			TICKS0[$sys]=$(cpu_ticks "${pids[$sys]}")
			wrk_run "$OUT/raw/wrk-kong-$sys-$r.txt" "$DURATION" "${url[$sys]}" ${lua[$sys]:+-s "${lua[$sys]}"}
			measured "$OUT/raw/wrk-kong-$sys-$r.txt" "$r" "${pids[$sys]}" "$sys"
		done
	done
	# flatness: the seed (Lua-driven), +K routes and +K upstreams in short
	# slices, alternating, so that the machine's drift between two systems'
	# slices is seconds, not a round's minute.
	local flat_file=$OUT/raw/kong-flat.txt flat=(kong-lua kong-routes kong-upstreams kong-upstreams-hot)
	url[kong-upstreams-hot]=${url[kong-upstreams]}
	ROUNDS_FILE=$flat_file
	: >"$ROUNDS_FILE"
	for ((r = 1; r <= FLAT_SLICES; r++)); do
		order="${flat[*]}"
		((r % 2 == 0)) && order="${flat[3]} ${flat[2]} ${flat[1]} ${flat[0]}"
		for sys in $order; do
			TICKS0[$sys]=$(cpu_ticks "${pids[$sys]}")
			wrk_run "$OUT/raw/wrk-kong-flat-$sys-$r.txt" "$FLAT_SECONDS" "${url[$sys]}" -s "${lua[$sys]}"
			measured "$OUT/raw/wrk-kong-flat-$sys-$r.txt" "$r" "${pids[$sys]}" "$sys"
		done
	done
	ROUNDS_FILE=$OUT/raw/kong.txt
	cleanup
	result ""
	result "## Kong: the seed's kong.yaml through kong_proxy against static reverse_proxy and nginx; wrk -t$THREADS -c$CONNS -d${DURATION}s, $ROUNDS rounds interleaved"
	result ""
	result "Two backend targets, round-robin, the same upstream headers in all three (X-Forwarded-*, X-Real-IP, a request id)."
	result "Ratios: median (min–max) of the per-round ratios. CPU: the proxy's user+system time per request (/proc)."
	result "$KONG_ROUTES routes / $KONG_ROUTES upstreams: kong_proxy with that many more routes (or services, routes and"
	result "upstreams), a random one per request (wrk Lua); compared with kong_proxy on the seed alone."
	result ""
	# fields: system round rps p50 p99 non2xx socket_errors requests cpu_ticks
	awk -v hz="$(getconf CLK_TCK)" -v order="$systems" -v nroutes="$KONG_ROUTES" "$AWK_MEDIAN$AWK_RATIO"'
	{
		rps[$1] += $3; c[$1]++; p50[$1] += $4; p99[$1] += $5; err[$1] += $6 + $7
		reqs[$1] += $8; ticks[$1] += $9; round[$1, $2] = $3; cpur[$1, $2] = $8 ? $9 / $8 : 0
		if ($2 + 0 > rounds) rounds = $2 + 0
	}
	BEGIN {
		name["kong"] = "kong_proxy, seed"; name["static"] = "static reverse_proxy"; name["nginx"] = "nginx"
		name["kong-base"] = "kong_proxy, seed, baseline binary"
		name["kong-routes"] = "kong_proxy, +" nroutes " routes"; name["kong-upstreams"] = "kong_proxy, +" nroutes " upstreams"
		name["kong-lua"] = "kong_proxy, seed, requests made by wrk Lua"
	}
	END {
		print "| proxy | req/s | / static (median) | / kong_proxy seed | CPU µs/request | static CPU / its CPU (median) | p50 µs | p99 µs | errors |"
		print "|---|---:|---:|---:|---:|---:|---:|---:|---:|"
		n = split(order, sys, " ")
		for (i = 1; i <= n; i++) {
			s = sys[i]
			printf "| %s | %.0f | %s | %s | %.1f | %s | %.0f | %.0f | %d |\n", name[s], rps[s] / c[s],
				ratio(s, "static", 0), s == "kong" ? "" : ratio(s, "kong", 0), ticks[s] / hz / reqs[s] * 1e6,
				ratio(s, "static", 1), p50[s] / c[s], p99[s] / c[s], err[s]
		}
		print ""
		printf "- **kong_proxy / static reverse_proxy: %s** req/s over %d rounds (goal ≥ 0.95); CPU per request static/kong_proxy %s\n", ratio("kong", "static", 0), rounds, ratio("kong", "static", 1)
		printf "- kong_proxy / nginx: %s; CPU per request nginx/kong_proxy %s\n", ratio("kong", "nginx", 0), ratio("kong", "nginx", 1)
		if ("kong-base" in rps) printf "- kong_proxy / baseline binary: %s req/s; CPU per request baseline/this %s\n", ratio("kong", "kong-base", 0), ratio("kong", "kong-base", 1)
		printf "- +%d routes / seed: %s req/s, CPU per request seed/this %s; +%d upstreams / seed: %s req/s, CPU %s\n",
			nroutes, ratio("kong-routes", "kong", 0), ratio("kong-routes", "kong", 1), nroutes, ratio("kong-upstreams", "kong", 0), ratio("kong-upstreams", "kong", 1)
		printf "- **against the seed also driven by wrk Lua** (the load generator doing the same work): +%d routes / seed: %s req/s, CPU %s; +%d upstreams / seed: %s req/s, CPU %s\n",
			nroutes, ratio("kong-routes", "kong-lua", 0), ratio("kong-routes", "kong-lua", 1), nroutes, ratio("kong-upstreams", "kong-lua", 0), ratio("kong-upstreams", "kong-lua", 1)
	}' "$ROUNDS_FILE" | tee -a "$RESULTS"
	local errors
	result ""
	result "Flatness in $FLAT_SLICES alternating slices of ${FLAT_SECONDS}s each (kong_proxy on the seed, +$KONG_ROUTES routes, +$KONG_ROUTES upstreams"
	result "with requests spread over all of them and over 10 of them, all driven by wrk Lua):"
	result ""
	awk -v nroutes="$KONG_ROUTES" "$AWK_MEDIAN$AWK_RATIO"'
	{ round[$1, $2] = $3; cpur[$1, $2] = $8 ? $9 / $8 : 0; if ($2 + 0 > rounds) rounds = $2 + 0 }
	END {
		printf "- **+%d routes / seed: %s** req/s, CPU per request seed/this %s\n", nroutes, ratio("kong-routes", "kong-lua", 0), ratio("kong-routes", "kong-lua", 1)
		printf "- **+%d upstreams / seed: %s** req/s, CPU per request seed/this %s\n", nroutes, ratio("kong-upstreams", "kong-lua", 0), ratio("kong-upstreams", "kong-lua", 1)
		printf "- +%d upstreams, requests spread over 10 of them only / seed: %s req/s, CPU per request seed/this %s\n", nroutes, ratio("kong-upstreams-hot", "kong-lua", 0), ratio("kong-upstreams-hot", "kong-lua", 1)
	}' "$OUT/raw/kong-flat.txt" | tee -a "$RESULTS"
	errors=$(cat "$ROUNDS_FILE" "$OUT/raw/kong-flat.txt" | awk '{ e += $6 + $7 } END { print e + 0 }')
	[[ $errors -eq 0 ]] || failed "kong: $errors non-2xx responses or socket errors"
}

# ---- phase 3: churn ----

phase_churn() {
	log "churn soak ${CHURN}s"
	local hc
	hc=$(
		cat <<EOF
			healthchecks {
				active {
					http_path /healthz
					healthy {
						interval 1
						successes 1
					}
					unhealthy {
						interval 0.5
						tcp_failures 1
						timeouts 1
					}
				}
				passive {
					unhealthy {
						tcp_failures 1
						timeouts 1
					}
				}
			}
			target 127.0.0.1:$VICTIM_PORT 100
EOF
	)
	registry_caddyfile 10 "$hc" "		lb_retries 2
		transport registry {
			dial_timeout 1s
		}" >"$OUT/conf/churn.caddyfile"
	backend_start backend-churn "$BACKEND_PORT" 10
	caddy_start registry "$OUT/conf/churn.caddyfile"
	wait_http "http://127.0.0.1:$REG_ADMIN/kong/upstreams/bench"
	start driver 1 "$OUT/bin/driver" churn -admin "http://127.0.0.1:$REG_ADMIN/kong" -upstream bench \
		-duration "$((CHURN - 2))s" -interval 50ms -backend "$OUT/bin/backend" -kill-port "$VICTIM_PORT"
	local driver=$LAST_PID
	wait_line "$OUT/logs/driver.log" ready
	wait_http "http://127.0.0.1:$REG_PORT/"
	wrk_run "$OUT/raw/wrk-churn.txt" "$CHURN" "http://127.0.0.1:$REG_PORT/"
	wait "$driver" || failed "churn driver (see $OUT/logs/driver.log)"
	cleanup
	read -r rps p50 p99 bad sock _ < <(wrk_parse "$OUT/raw/wrk-churn.txt")
	result ""
	result "## Churn soak: ${CHURN}s, wrk -t$THREADS -c$CONNS, one target added or removed every 50 ms, one backend killed and restarted"
	result ""
	result "- wrk: $rps req/s, p50 ${p50} µs, p99 ${p99} µs; **non-2xx responses: $bad**, socket errors: $sock (lb_retries 2, passive tcp_failures 1, active checks every 1 s / 0.5 s)"
	sed -n 's/^\(churn\|kill\): /- /p' "$OUT/logs/driver.log" | tee -a "$RESULTS"
	[[ $((bad + sock)) -eq 0 ]] || failed "churn: $bad non-2xx responses, $sock socket errors"
	grep -q ' 0 failed operations' "$OUT/logs/driver.log" || failed "churn: Admin API operations failed"
}

# ---- phase 4: scale ----

phase_scale() {
	log "scale: $SCALE_UPSTREAMS upstreams x $SCALE_TARGETS targets"
	cat >"$OUT/conf/scale.caddyfile" <<EOF
{
	admin 127.0.0.1:$REG_ADMIN
	persist_config off
	upstreams {
		store bolt $OUT/data/registry/upstreams.db
	}
}
http://127.0.0.1:$REG_PORT {
	bind 127.0.0.1
	reverse_proxy {
		dynamic registry {http.request.header.X-Upstream}
		lb_policy registry
	}
}
EOF
	backend_start backend-scale "$BACKEND_PORT" "$SCALE_TARGETS"
	caddy_start registry "$OUT/conf/scale.caddyfile"
	local caddy=$LAST_PID
	wait_http "http://127.0.0.1:$REG_ADMIN/kong/upstreams"
	result ""
	result "## Scale: $SCALE_UPSTREAMS upstreams x $SCALE_TARGETS targets through the Admin API (4 clients in parallel, bbolt store, fsync per write)"
	result ""
	if ! (on_cpu 1 "$OUT/bin/driver" scale -admin "http://127.0.0.1:$REG_ADMIN/kong" -caddy-admin "http://127.0.0.1:$REG_ADMIN" \
		-pid "$caddy" -upstreams "$SCALE_UPSTREAMS" -targets "$SCALE_TARGETS" -base-port "$BACKEND_PORT") 2>&1 |
		sed -u 's/^scale: /- /' | tee -a "$RESULTS"; then
		failed "scale driver"
	fi
	curl -s -o "$OUT/scale.heap.pprof" "http://127.0.0.1:$REG_ADMIN/debug/pprof/heap?gc=1"

	# selection among all upstreams through the proxy: a random upstream per
	# request against always the same one, interleaved; both set the header
	# from Lua, so that wrk does the same work in both.
	local mode
	for mode in random one; do
		cat >"$OUT/conf/$mode-upstream.lua" <<EOF
math.randomseed(os.time())
request = function()
	wrk.headers["X-Upstream"] = string.format("scale-%05d", math.random(0, $([[ $mode == one ]] && echo 0 || echo $((SCALE_UPSTREAMS - 1)))))
	return wrk.format()
end
EOF
	done
	local r raw
	ROUNDS_FILE=$OUT/raw/scale-select.txt
	: >"$ROUNDS_FILE"
	declare -gA TICKS0
	for ((r = 1; r <= 2; r++)); do
		for mode in one random; do
			raw=$OUT/raw/wrk-scale-$mode-$r.txt
			TICKS0[$mode]=$(cpu_ticks "$caddy")
			wrk_run "$raw" "$DURATION" "http://127.0.0.1:$REG_PORT/" -s "$OUT/conf/$mode-upstream.lua"
			measured "$raw" "$r" "$caddy" "$mode"
		done
	done
	cleanup
	awk -v hz="$(getconf CLK_TCK)" '
	{ rps[$1] += $3; c[$1]++; p50[$1] += $4; p99[$1] += $5; err += $6 + $7; reqs[$1] += $8; ticks[$1] += $9 }
	END {
		for (s in rps) { rps[s] /= c[s]; p50[s] /= c[s]; p99[s] /= c[s]; cpu[s] = ticks[s] / hz / reqs[s] * 1e6 }
		printf "- proxied, a random upstream of all per request: %.0f req/s, p50 %.0f µs, p99 %.0f µs, %.1f µs CPU/request; always the same upstream: %.0f req/s, p50 %.0f µs, p99 %.0f µs, %.1f µs CPU/request; throughput ratio %.3f, CPU ratio same/random %.3f; errors %d\n",
			rps["random"], p50["random"], p99["random"], cpu["random"], rps["one"], p50["one"], p99["one"], cpu["one"], rps["random"] / rps["one"], cpu["one"] / cpu["random"], err
	}' "$ROUNDS_FILE" | tee -a "$RESULTS"
	[[ $(awk '{ e += $6 + $7 } END { print e + 0 }' "$OUT/raw/scale-select.txt") -eq 0 ]] || failed "scale: proxied requests failed"

	go_benchmarks
}

# go_benchmarks runs the Go benchmarks of the request path COUNT times
# each, on CPU 0, and prints the minimum and median ns/op of each (the
# minimum is the run least disturbed by the machine's other load).
go_benchmarks() {
	local count=5
	[[ $BENCHTIME == 1s ]] || count=1
	log "Go benchmarks: a pick in a registry of 10 000 x 10; the registry source per request"
	result ""
	result "Go benchmarks (-count $count, pinned to CPU 0; ns/op min / median, allocs/op):"
	result ""
	(on_cpu 0 go test ./upstreams/ ./upstreams/reverseproxy/ -run '^$' -bench 'BenchmarkRegistryPick|BenchmarkSourceGetUpstreams' \
		-benchtime "$BENCHTIME" -count "$count" -benchmem) 2>&1 | tee "$OUT/raw/go-bench.txt" | grep -E '^Benchmark' |
		awk "$AWK_MEDIAN"'
		{ name = $1; sub(/-[0-9]+$/, "", name); if (!(name in n)) order[++names] = name; ns[name, ++n[name]] = $3; allocs[name] = $7 }
		END {
			for (i = 1; i <= names; i++) {
				name = order[i]
				for (j = 1; j <= n[name]; j++) v[j] = ns[name, j]
				med = median(v, n[name])
				printf "- `%s`: %s / %s ns/op, %s allocs/op\n", name, lo, med, allocs[name]
			}
		}' | tee -a "$RESULTS"
}

# ---- main ----

need_tools
build
{
	echo "# bench/run.sh results"
	echo ""
	echo "- date: $(date -u '+%Y-%m-%d %H:%M UTC')"
	echo "- command: bash bench/run.sh $ARGS"
	echo "- machine: $(nproc) CPU $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //'), $(uname -sr), $(go version | cut -d' ' -f3), nginx $(nginx -v 2>&1 | cut -d/ -f2), $(wrk -v 2>&1 | head -1 | cut -d' ' -f1-2)"
	echo "- load average at start: $(cut -d' ' -f1-3 /proc/loadavg)"
	echo "- pinning: $([[ $PIN -eq 1 ]] && echo 'proxy on CPU 0, wrk/backends/driver on CPU 1' || echo none)"
} >"$RESULTS"
cat "$RESULTS"
for phase in $PHASES; do
	ports_free "$REG_PORT" "$STATIC_PORT" "$NGINX_PORT" "$REG_ADMIN" "$STATIC_ADMIN" "$BACKEND_PORT" "$VICTIM_PORT"
	"phase_$phase"
done
result ""
result "- load average at end: $(cut -d' ' -f1-3 /proc/loadavg)"
log "results in $RESULTS"
if [[ $FAILURES -gt 0 ]]; then
	log "$FAILURES phase(s) saw errors"
	exit 1
fi
