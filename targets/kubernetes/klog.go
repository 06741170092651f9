package kubernetes

import (
	"github.com/caddyserver/caddy/v2"
	"github.com/go-logr/logr"
	"go.uber.org/zap"
	"k8s.io/klog/v2"
)

// client-go logs through klog (to stderr, in its own format, by default).
// Its messages are sent to Caddy's logs instead, under the logger
// "kubernetes.client-go": errors (a watch that failed, a forbidden list)
// as errors, klog's verbosity 0 as info, higher verbosities dropped.
func init() {
	klog.SetLoggerWithOptions(logr.New(zapSink{}), klog.ContextualLogger(true))
}

// zapSink is a logr.LogSink writing to Caddy's current default logger.
type zapSink struct {
	name   string
	fields []zap.Field
}

func (s zapSink) logger() *zap.Logger {
	name := "kubernetes.client-go"
	if s.name != "" {
		name += "." + s.name
	}
	return caddy.Log().Named(name).With(s.fields...)
}

// Init implements logr.LogSink.
func (zapSink) Init(logr.RuntimeInfo) {}

// Enabled implements logr.LogSink: verbosity 0 only.
func (zapSink) Enabled(level int) bool { return level <= 0 }

// Info implements logr.LogSink.
func (s zapSink) Info(_ int, msg string, kv ...any) { s.logger().Info(msg, fields(kv)...) }

// Error implements logr.LogSink.
func (s zapSink) Error(err error, msg string, kv ...any) {
	s.logger().Error(msg, append(fields(kv), zap.Error(err))...)
}

// WithValues implements logr.LogSink.
func (s zapSink) WithValues(kv ...any) logr.LogSink {
	s.fields = append(append([]zap.Field(nil), s.fields...), fields(kv)...)
	return s
}

// WithName implements logr.LogSink.
func (s zapSink) WithName(name string) logr.LogSink {
	if s.name != "" {
		name = s.name + "." + name
	}
	s.name = name
	return s
}

// fields turns logr's alternating keys and values into zap fields.
func fields(kv []any) []zap.Field {
	out := make([]zap.Field, 0, len(kv)/2)
	for i := 0; i+1 < len(kv); i += 2 {
		key, ok := kv[i].(string)
		if !ok {
			continue
		}
		out = append(out, zap.Any(key, kv[i+1]))
	}
	return out
}
