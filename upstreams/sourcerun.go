package upstreams

import (
	"context"
	"encoding/json"
	"fmt"
	"time"

	"github.com/caddyserver/caddy/v2"
	"go.uber.org/zap"

	"github.com/caddy-upstreams/caddy-upstreams/targets"
)

// declaredSource is the target source declared for an upstream in config:
// {"module": "<name>", ...the module's fields}.
type declaredSource struct {
	module string          // module name in targets.SourceNamespace
	raw    json.RawMessage // the module's fields, without "module"
}

// parseDeclaredSource splits a config "source" object into its module name
// and fields.
func parseDeclaredSource(v any) (*declaredSource, error) {
	obj, ok := v.(map[string]any)
	if !ok {
		raw, err := json.Marshal(v)
		if err != nil || json.Unmarshal(raw, &obj) != nil || obj == nil {
			return nil, fmt.Errorf("source: expected an object")
		}
	}
	name, _ := obj["module"].(string)
	if name == "" {
		return nil, fmt.Errorf("source: the module name is required, e.g. {\"module\": \"kubernetes\", ...}")
	}
	fields := make(map[string]any, len(obj))
	for k, val := range obj {
		if k != "module" {
			fields[k] = val
		}
	}
	raw, err := json.Marshal(fields)
	if err != nil {
		return nil, fmt.Errorf("source: %w", err)
	}
	return &declaredSource{module: name, raw: raw}, nil
}

// configuredSource is a provisioned source module and the upstream it feeds.
type configuredSource struct {
	upstream string
	label    string // how messages name it: "kubernetes source (...)"
	source   targets.Source
}

// loadSource provisions the source module declared for an upstream. The
// module belongs to ctx's config: it is cleaned up with it.
func loadSource(ctx caddy.Context, upstream string, d *declaredSource) (configuredSource, error) {
	id := targets.SourceNamespace + "." + d.module
	mod, err := ctx.LoadModuleByID(id, d.raw)
	if err != nil {
		return configuredSource{}, fmt.Errorf("upstream %s: loading source: %w", upstream, err)
	}
	src, ok := mod.(targets.Source)
	if !ok {
		return configuredSource{}, fmt.Errorf("upstream %s: module %s is not a target source", upstream, id)
	}
	label := d.module + " source"
	if s, ok := mod.(fmt.Stringer); ok {
		label += " (" + s.String() + ")"
	}
	return configuredSource{upstream: upstream, label: label, source: src}, nil
}

// Delays between runs of a source whose Run returned an error.
const (
	sourceRetryMin = time.Second
	sourceRetryMax = 30 * time.Second
)

// sourceRun is a running source: its Run loop and its binding.
type sourceRun struct {
	binding *sourceBinding
	cancel  context.CancelFunc
	done    chan struct{}
}

// startSource binds cs to its upstream and runs it until stop. A Run that
// returns an error is logged and run again after a growing delay.
func (r *Registry) startSource(cs configuredSource, logger *zap.Logger) *sourceRun {
	ctx, cancel := context.WithCancel(context.Background())
	run := &sourceRun{binding: r.bindSource(cs.upstream, cs.label), cancel: cancel, done: make(chan struct{})}
	logger = logger.With(zap.String("upstream", cs.upstream), zap.String("source", cs.label))
	go func() {
		defer close(run.done)
		runUntilCancelled(ctx, logger, "target source", func(ctx context.Context) error {
			return cs.source.Run(ctx, run.binding)
		})
	}()
	return run
}

// stop ends the run, waits for it, and removes its targets unless a newer
// config's source has taken the upstream over.
func (s *sourceRun) stop() {
	s.cancel()
	<-s.done
	s.binding.reg.unbindSource(s.binding)
}

// runUntilCancelled calls run until ctx is cancelled: a run that returns
// while ctx is live is logged as what stopped and started again after a
// delay that doubles from sourceRetryMin up to sourceRetryMax.
func runUntilCancelled(ctx context.Context, logger *zap.Logger, what string, run func(context.Context) error) {
	delay := sourceRetryMin
	for {
		err := run(ctx)
		if ctx.Err() != nil {
			return
		}
		logger.Error(what+" stopped; running it again", zap.Error(err), zap.Duration("after", delay))
		select {
		case <-ctx.Done():
			return
		case <-time.After(delay):
		}
		delay = min(2*delay, sourceRetryMax)
	}
}
