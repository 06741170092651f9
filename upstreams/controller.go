package upstreams

import (
	"context"
	"encoding/json"
	"fmt"

	"github.com/caddyserver/caddy/v2"
	"go.uber.org/zap"
)

// ControllerNamespace is the Caddy module namespace of controllers: a
// controller named "kubernetes" is the module upstreams.controllers.kubernetes,
// configured by the app's field of the same name.
const ControllerNamespace = "upstreams.controllers"

// Controller is implemented by the modules of namespace
// upstreams.controllers: something outside Caddy (Kubernetes Ingresses)
// that the registry's managed layer follows. A controller publishes the
// whole layer with Registry.SetManaged(owner, ...) once it knows it and
// after every change, until ctx is cancelled; the layer lives in memory on
// each node and is read-only in the Admin API.
type Controller interface {
	// Run watches and publishes until ctx is cancelled, then returns nil.
	// An error return before that is logged and Run is called again after
	// a delay; the layer stays as it was meanwhile.
	Run(ctx context.Context, reg *Registry, owner any) error
}

// loadController provisions the controller module configured under the
// app's field name (its JSON object, without a "module" key).
func loadController(ctx caddy.Context, name string, raw json.RawMessage) (Controller, error) {
	mod, err := ctx.LoadModuleByID(ControllerNamespace+"."+name, raw)
	if err != nil {
		return nil, fmt.Errorf("loading the %s controller: %w", name, err)
	}
	c, ok := mod.(Controller)
	if !ok {
		return nil, fmt.Errorf("module %s.%s is not a controller", ControllerNamespace, name)
	}
	return c, nil
}

// controllerRun is a running controller.
type controllerRun struct {
	reg    *Registry
	cancel context.CancelFunc
	done   chan struct{}
}

// startController takes the managed layer over (so the previous config's
// controller, stopping, leaves it) and runs c until stop, again after a
// growing delay when Run fails.
func (r *Registry) startController(c Controller, logger *zap.Logger) *controllerRun {
	ctx, cancel := context.WithCancel(context.Background())
	run := &controllerRun{reg: r, cancel: cancel, done: make(chan struct{})}
	r.AdoptManaged(run)
	go func() {
		defer close(run.done)
		runUntilCancelled(ctx, logger, "controller", func(ctx context.Context) error {
			return c.Run(ctx, r, run)
		})
	}()
	return run
}

// stop ends the run, waits for it, and removes the managed layer unless a
// newer config's controller has taken it over.
func (c *controllerRun) stop() {
	c.cancel()
	<-c.done
	c.reg.ClearManaged(c)
}
