package pgstore

import (
	"context"
	"errors"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/caddyserver/caddy/v2"
	"github.com/caddyserver/caddy/v2/caddyconfig"
	"github.com/caddyserver/caddy/v2/caddyconfig/caddyfile"
	_ "github.com/caddyserver/caddy/v2/caddyconfig/httpcaddyfile"

	_ "github.com/caddy-upstreams/caddy-upstreams/caddyfile" // the upstreams global option
	"github.com/caddy-upstreams/caddy-upstreams/upstreams"
)

func TestUnmarshalCaddyfile(t *testing.T) {
	for _, tc := range []struct {
		name, input string
		want        Store
		err         string
	}{
		{name: "dsn argument", input: `postgres postgres://u:p@db:5432/reg`,
			want: Store{DSN: "postgres://u:p@db:5432/reg"}},
		{name: "placeholder kept for provisioning", input: `postgres {env.PG_DSN}`,
			want: Store{DSN: "{env.PG_DSN}"}},
		{name: "block", input: "postgres {env.PG_DSN} {\n resync_interval 1m\n table_prefix edge_\n}",
			want: Store{DSN: "{env.PG_DSN}", ResyncInterval: caddy.Duration(time.Minute), TablePrefix: "edge_"}},
		{name: "dsn in block", input: "postgres {\n dsn \"host=db user=u dbname=reg\"\n}",
			want: Store{DSN: "host=db user=u dbname=reg"}},
		{name: "no dsn", input: `postgres`, err: "a dsn is required"},
		{name: "two dsns", input: "postgres a {\n dsn b\n}", err: "dsn already specified"},
		{name: "extra argument", input: `postgres a b`, err: "wrong argument count"},
		{name: "bad duration", input: "postgres a {\n resync_interval soon\n}", err: "bad resync_interval"},
		{name: "zero duration", input: "postgres a {\n resync_interval 0s\n}", err: "must be positive"},
		{name: "bad prefix", input: "postgres a {\n table_prefix Drop;\n}", err: "table_prefix"},
		{name: "unknown option", input: "postgres a {\n pool 5\n}", err: "unrecognized postgres store option 'pool'"},
		{name: "option without value", input: "postgres a {\n resync_interval\n}", err: "wrong argument count"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var got Store
			err := got.UnmarshalCaddyfile(caddyfile.NewTestDispenser(tc.input))
			if tc.err != "" {
				if err == nil || !strings.Contains(err.Error(), tc.err) {
					t.Fatalf("error = %v, want one containing %q", err, tc.err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if got.DSN != tc.want.DSN || got.ResyncInterval != tc.want.ResyncInterval || got.TablePrefix != tc.want.TablePrefix {
				t.Fatalf("got %+v, want %+v", got, tc.want)
			}
		})
	}
}

// TestAdaptGlobalOption checks the store as the upstreams global option
// writes it: the JSON the app's openStore decodes.
func TestAdaptGlobalOption(t *testing.T) {
	input := `{
	upstreams {
		store postgres {env.PG_DSN} {
			resync_interval 10s
			table_prefix edge_
		}
	}
}
:8080 {
	respond ok
}
`
	out, warnings, err := caddyconfig.GetAdapter("caddyfile").Adapt([]byte(input), nil)
	if err != nil {
		t.Fatal(err)
	}
	if len(warnings) > 0 {
		t.Logf("warnings: %v", warnings)
	}
	want := `"store":{"dsn":"{env.PG_DSN}","module":"postgres","resync_interval":10000000000,"table_prefix":"edge_"}`
	if !strings.Contains(string(out), want) {
		t.Fatalf("adapted JSON lacks %s:\n%s", want, out)
	}
}

func TestModuleJSON(t *testing.T) {
	info, err := caddy.GetModule("upstreams.stores.postgres")
	if err != nil {
		t.Fatal(err)
	}
	mod := info.New()
	body := `{"dsn":"{env.PG_DSN}","resync_interval":"45s","table_prefix":"a_"}`
	if err := caddy.StrictUnmarshalJSON([]byte(body), mod); err != nil {
		t.Fatal(err)
	}
	s := mod.(*Store)
	if s.DSN != "{env.PG_DSN}" || time.Duration(s.ResyncInterval) != 45*time.Second || s.TablePrefix != "a_" {
		t.Fatalf("decoded %+v", s)
	}
	if err := caddy.StrictUnmarshalJSON([]byte(`{"dsn":"x","password":"y"}`), info.New()); err == nil {
		t.Fatal("an unknown field was accepted")
	}
}

// TestProvisionFailsClearly needs no database: the errors come before,
// or from, connecting.
func TestProvisionFailsClearly(t *testing.T) {
	// a port nothing listens on
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	closedPort := l.Addr().String()
	l.Close()

	ctx, cancel := caddy.NewContext(caddy.Context{Context: context.Background()})
	defer cancel()
	t.Setenv("PGSTORE_TEST_EMPTY", "")
	for _, tc := range []struct {
		name        string
		store       Store
		err         string
		unavailable bool
	}{
		{name: "no dsn", store: Store{}, err: "a dsn is required"},
		{name: "placeholder empty", store: Store{DSN: "{env.PGSTORE_TEST_EMPTY}"}, err: "empty once its placeholders are replaced"},
		{name: "bad prefix", store: Store{DSN: "postgres://x@127.0.0.1/x", TablePrefix: "1x"}, err: "table_prefix"},
		{name: "negative resync", store: Store{DSN: "postgres://x@127.0.0.1/x", ResyncInterval: -1}, err: "resync_interval"},
		{name: "bad dsn", store: Store{DSN: "postgres://u:secret@[::1/x"}, err: "postgres store"},
		{name: "database down", store: Store{DSN: "postgres://u:secret@" + closedPort + "/reg?sslmode=disable"},
			err: "u@127.0.0.1", unavailable: true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s := tc.store
			start := time.Now()
			err := s.Provision(ctx)
			if err == nil {
				s.Close()
				t.Fatal("Provision succeeded")
			}
			if !strings.Contains(err.Error(), tc.err) {
				t.Fatalf("error = %v, want one containing %q", err, tc.err)
			}
			if strings.Contains(err.Error(), "secret") {
				t.Fatalf("the error shows the password: %v", err)
			}
			if tc.unavailable && !errors.Is(err, upstreams.ErrUnavailable) {
				t.Fatalf("error = %v, want one wrapping ErrUnavailable", err)
			}
			if d := time.Since(start); d > 10*time.Second {
				t.Fatalf("Provision took %v to fail", d)
			}
			t.Logf("%v", err)
			if err := s.Close(); err != nil {
				t.Fatalf("Close after a failed Provision: %v", err)
			}
		})
	}
}

func TestClosedOrUnopenedStore(t *testing.T) {
	var s Store
	ctx := context.Background()
	if _, err := s.Load(ctx); !errors.Is(err, upstreams.ErrUnavailable) {
		t.Fatalf("Load on an unopened store: %v", err)
	}
	if err := s.Apply(ctx, upstreams.Batch{Put: []upstreams.Record{rec("k", "1", "", "")}}); !errors.Is(err, upstreams.ErrUnavailable) {
		t.Fatalf("Apply on an unopened store: %v", err)
	}
	if err := s.Subscribe(ctx, func() {}); !errors.Is(err, upstreams.ErrUnavailable) {
		t.Fatalf("Subscribe on an unopened store: %v", err)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
}
