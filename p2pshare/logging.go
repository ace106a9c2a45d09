package p2pshare

import (
	"context"
	"log/slog"

	logging "github.com/ipfs/go-log/v2"
)

// defaultLogger is the node's logger when Config.Logger is nil: go-log's
// slog handler, under the p2pshare subsystem, with every error written as
// its message (errorText).
func defaultLogger() *slog.Logger {
	return slog.New(errorText{logging.SlogHandler()}).With("logger", "p2pshare")
}

// errorText hands its handler every error value as the error's message.
// go-log's handler writes a value of no kind it knows by reflection, which
// turns most errors into {}: a log that says a dial failed would not say
// why.
type errorText struct{ slog.Handler }

func (h errorText) Handle(ctx context.Context, r slog.Record) error {
	out := slog.NewRecord(r.Time, r.Level, r.Message, r.PC)
	r.Attrs(func(a slog.Attr) bool {
		out.AddAttrs(errorAttr(a))
		return true
	})
	return h.Handler.Handle(ctx, out)
}

func (h errorText) WithAttrs(attrs []slog.Attr) slog.Handler {
	fixed := make([]slog.Attr, len(attrs))
	for i, a := range attrs {
		fixed[i] = errorAttr(a)
	}
	return errorText{h.Handler.WithAttrs(fixed)}
}

func (h errorText) WithGroup(name string) slog.Handler {
	return errorText{h.Handler.WithGroup(name)}
}

// errorAttr is a with an error value, also in a group, as its message.
func errorAttr(a slog.Attr) slog.Attr {
	v := a.Value.Resolve()
	switch v.Kind() {
	case slog.KindAny:
		if err, ok := v.Any().(error); ok && err != nil {
			return slog.String(a.Key, err.Error())
		}
	case slog.KindGroup:
		g := v.Group()
		fixed := make([]any, len(g))
		for i, x := range g {
			fixed[i] = errorAttr(x)
		}
		return slog.Group(a.Key, fixed...)
	}
	return a
}
