package manager_test

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/cdproto/emulation"
	"github.com/chromedp/cdproto/log"
	"github.com/chromedp/cdproto/runtime"
	"github.com/chromedp/chromedp"

	"github.com/caddy-upstreams/caddy-upstreams/internal/testcaddy"
)

// chromium returns the browser binary, skipping the test when there is
// none, except in CI (CI=true), where the browser test must run.
func chromium(t *testing.T) string {
	t.Helper()
	for _, name := range []string{"chromium", "chromium-browser"} {
		if p, err := exec.LookPath(name); err == nil {
			return p
		}
	}
	if os.Getenv("CI") == "true" {
		t.Fatal("CI=true but no chromium on PATH (scripts/test.sh installs Debian's chromium package)")
	}
	t.Skip("no chromium on PATH: apt-get install chromium to run the browser test")
	return ""
}

// browser starts a headless Chromium with a fresh profile and collects the
// page's JavaScript errors: uncaught exceptions, console.error and error
// log entries. Network log entries are left out: a 4xx answer from the
// Admin API (a field Kong rejects) is the page's business, shown to the
// user, not a script error.
func browser(t *testing.T) (context.Context, func() []string) {
	t.Helper()
	opts := []chromedp.ExecAllocatorOption{
		chromedp.ExecPath(chromium(t)),
		chromedp.Flag("headless", true), chromedp.NoSandbox, chromedp.DisableGPU,
		chromedp.Flag("disable-quic", true), chromedp.NoFirstRun,
		chromedp.Flag("disable-background-networking", true), chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-sync", true), chromedp.UserDataDir(t.TempDir()),
		chromedp.WindowSize(1100, 760),
	}
	actx, cancelAlloc := chromedp.NewExecAllocator(context.Background(), opts...)
	ctx, cancelCtx := chromedp.NewContext(actx)
	ctx, cancelTimeout := context.WithTimeout(ctx, 2*time.Minute)
	t.Cleanup(func() { cancelTimeout(); cancelCtx(); cancelAlloc() })
	var mu sync.Mutex
	var errs []string
	if err := chromedp.Listen(ctx, func(ev any) {
		mu.Lock()
		defer mu.Unlock()
		switch ev := ev.(type) {
		case *runtime.EventExceptionThrown:
			errs = append(errs, fmt.Sprintf("exception: %s %+v", ev.ExceptionDetails.Text, ev.ExceptionDetails.Exception))
		case *runtime.EventConsoleAPICalled:
			if ev.Type == runtime.ConsoleAPICalledTypeError {
				var parts []string
				for _, a := range ev.Args {
					parts = append(parts, fmt.Sprintf("%+v", *a))
				}
				errs = append(errs, "console.error: "+strings.Join(parts, " "))
			}
		case *log.EventEntryAdded:
			if ev.Entry.Level == log.EntryLevelError && ev.Entry.Source != log.EntrySourceNetwork {
				errs = append(errs, fmt.Sprintf("log %s: %s (%s)", ev.Entry.Source, ev.Entry.Text, ev.Entry.URL))
			}
		}
	}); err != nil {
		t.Fatalf("starting chromium: %v", err)
	}
	return ctx, func() []string { mu.Lock(); defer mu.Unlock(); return append([]string(nil), errs...) }
}

// until polls a JavaScript expression until it is true.
func until(expr string) chromedp.Action[chromedp.Void] {
	return discard(chromedp.Poll[bool](expr, chromedp.WithPollingTimeout(30*time.Second), chromedp.WithPollingInterval(100*time.Millisecond)))
}

// discard drops an action's value.
func discard[T any](a chromedp.Action[T]) chromedp.Action[chromedp.Void] {
	return func(ctx context.Context, t *chromedp.Target) (chromedp.Void, error) {
		_, err := a(ctx, t)
		return chromedp.Void{}, err
	}
}

// eval runs JavaScript for its effect.
func eval(expr string) chromedp.Action[chromedp.Void] {
	return discard(chromedp.Evaluate[any](expr))
}

// screenshot saves the viewport as dir/name.
func screenshot(dir, name string) chromedp.Action[chromedp.Void] {
	return chromedp.Func(func(ctx context.Context, t *chromedp.Target) error {
		png, err := chromedp.CaptureScreenshot()(ctx, t)
		if err != nil {
			return err
		}
		return os.WriteFile(filepath.Join(dir, name), png, 0o644)
	})
}

// darkScheme makes the page see prefers-color-scheme: dark.
func darkScheme() chromedp.Action[chromedp.Void] {
	return chromedp.Func(func(ctx context.Context, t *chromedp.Target) error {
		_, err := chromedp.Call(ctx, emulation.SetEmulatedMedia, emulation.SetEmulatedMediaParams{
			Features: []*emulation.MediaFeature{{Name: "prefers-color-scheme", Value: "dark"}},
		})
		return err
	})
}

// row is the CSS selector of a target's row in a table.
func row(table, target string) chromedp.CSS {
	return chromedp.CSS(fmt.Sprintf(`#%s tr[data-target="%s"]`, table, target))
}

// TestManagerInBrowser drives the page in headless Chromium on the seed
// example while requests flow through kong_proxy: upstream-example is
// listed with its two targets, a third is added through the form and takes
// its share in the live chart, a target marked unhealthy shows it, and a
// bad field value shows Kong's error next to the field; the seed's service
// is listed and shows its route. Any JavaScript
// error fails the test. Screenshots are kept in a directory the test log
// names.
func TestManagerInBrowser(t *testing.T) {
	ctx, jsErrors := browser(t)
	s := startSeed(t)
	third := testcaddy.StartBackend(t, "c")
	dir, err := os.MkdirTemp("", "kong-manager-screenshots-")
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("screenshots: %s", dir)

	load, stopLoad := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		s.proxyLoad(load, func(err error) { t.Errorf("request through kong_proxy: %v", err) })
	}()
	defer func() { stopLoad(); wg.Wait() }()

	step := func(what string, actions ...chromedp.Action[chromedp.Void]) {
		t.Helper()
		if err := chromedp.Do(ctx, actions...); err != nil {
			t.Fatalf("%s: %v (JavaScript errors: %q)", what, err, jsErrors())
		}
	}
	a, b, c := s.a.Addr, s.b.Addr, third.Addr

	step("upstreams list shows upstream-example with its two targets",
		chromedp.Navigate(s.manager+"/#/upstreams"),
		until(`(() => { const r = document.querySelector('tr[data-upstream="upstream-example"]');
			return r && r.cells[2].textContent === "2" && r.cells[3].textContent === "200 / 200"; })()`),
		screenshot(dir, "upstreams.png"))

	step("upstream page lists both targets, live",
		chromedp.Click(chromedp.CSS(`tr[data-upstream="upstream-example"] a`)),
		chromedp.WaitVisible(row("targets", a)),
		chromedp.WaitVisible(row("targets", b)))

	step("a third target added through the form appears",
		chromedp.SetValue(chromedp.CSS("#new-target"), c),
		chromedp.Click(chromedp.CSS(`#add-target button[type="submit"]`)),
		chromedp.WaitVisible(row("targets", c)))

	step("the live chart shows the third target's share",
		chromedp.Navigate(s.manager+"/#/traffic/upstream-example"),
		until(fmt.Sprintf(`(() => {
			const share = document.querySelector('%s .share');
			return share && parseInt(share.textContent) > 0 && !!document.querySelector('#chart-rps polyline[data-series="%s"]');
		})()`, row("traffic-legend", c), c)),
		screenshot(dir, "traffic.png"))

	// the seed runs without health checks, where Kong refuses manual health
	// changes: turn passive checks on through the fields form first
	step("health checks enabled through the upstream form",
		chromedp.Navigate(s.manager+"/#/upstreams/upstream-example"),
		chromedp.WaitVisible(chromedp.CSS("#upstream-healthchecks")),
		eval(`(() => { const ta = document.getElementById("upstream-healthchecks");
			const hc = JSON.parse(ta.value); hc.passive.unhealthy.http_failures = 5; ta.value = JSON.stringify(hc); })()`),
		chromedp.Click(chromedp.CSS(`form button.primary`)),
		until(fmt.Sprintf(`document.querySelector('%s')?.dataset.health === "HEALTHY"`, row("targets", a))))

	step("a target marked unhealthy shows it",
		chromedp.Click(row("targets", a)+` button:nth-child(3)`),
		until(fmt.Sprintf(`document.querySelector('%s')?.dataset.health === "UNHEALTHY"`, row("targets", a))),
		until(fmt.Sprintf(`document.querySelector('%s')?.dataset.health === "HEALTHY"`, row("targets", b))),
		screenshot(dir, "upstream.png"))

	want := kongFieldError(t, s.manager+"/api/upstreams/upstream-example", `{"slots":5}`, "slots")
	var shown string
	step("a bad value shows Kong's error next to the field",
		chromedp.SetValue(chromedp.CSS("#upstream-slots"), "5"),
		chromedp.Click(chromedp.CSS(`form button.primary`)),
		until(`document.getElementById("upstream-slots-error").textContent !== ""`),
		chromedp.Func(func(ctx context.Context, tg *chromedp.Target) (err error) {
			shown, err = chromedp.Text(chromedp.CSS("#upstream-slots-error"))(ctx, tg)
			return err
		}),
		screenshot(dir, "field-error.png"))
	if shown != want {
		t.Errorf("error shown next to slots: %q, want Kong's %q", shown, want)
	}

	step("dark scheme renders",
		darkScheme(),
		chromedp.Navigate(s.manager+"/#/traffic/upstream-example"),
		chromedp.WaitVisible(row("traffic-legend", c)),
		screenshot(dir, "traffic-dark.png"))

	step("services list leads to the seed's service and its route",
		chromedp.Navigate(s.manager+"/#/services"),
		until(`[...document.querySelectorAll("main a")].some((a) => a.textContent === "Upstream-Example")`),
		eval(`[...document.querySelectorAll("main a")].find((a) => a.textContent === "Upstream-Example").click()`),
		until(`document.getElementById("service-host")?.value === "upstream-example" &&
			[...document.querySelectorAll("main a")].some((a) => a.textContent === "Upstream-example")`),
		screenshot(dir, "service.png"))

	if errs := jsErrors(); len(errs) > 0 {
		t.Errorf("JavaScript errors on the page:\n%s", strings.Join(errs, "\n"))
	}
}

// kongFieldError sends a PATCH the Admin API must refuse and returns its
// message for field.
func kongFieldError(t *testing.T, url, body, field string) string {
	t.Helper()
	req, _ := http.NewRequest("PATCH", url, strings.NewReader(body))
	req.Header.Set("Content-Type", "application/json")
	resp, err := testcaddy.Client.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	raw, _ := io.ReadAll(resp.Body)
	var kerr struct {
		Fields map[string]string `json:"fields"`
	}
	if resp.StatusCode != 400 || json.Unmarshal(raw, &kerr) != nil || kerr.Fields[field] == "" {
		t.Fatalf("PATCH %s %s: %d %s, want a 400 naming %s", url, body, resp.StatusCode, raw, field)
	}
	return kerr.Fields[field]
}
