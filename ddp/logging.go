package ddp

import (
	"context"
	"log/slog"
)

// quieter returns log without records below level: the other ranks' copy
// of what rank 0 already says (every rank tokenizes the same files).
func quieter(log *slog.Logger, level slog.Level) *slog.Logger {
	return slog.New(minLevel{log.Handler(), level})
}

type minLevel struct {
	slog.Handler
	level slog.Level
}

func (h minLevel) Enabled(ctx context.Context, l slog.Level) bool {
	return l >= h.level && h.Handler.Enabled(ctx, l)
}

func (h minLevel) WithAttrs(a []slog.Attr) slog.Handler {
	return minLevel{h.Handler.WithAttrs(a), h.level}
}
func (h minLevel) WithGroup(n string) slog.Handler { return minLevel{h.Handler.WithGroup(n), h.level} }
