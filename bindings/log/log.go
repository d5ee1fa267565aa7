// Package log is the predeclared log module of scripts (SPEC §11): Python
// logging's four levels as structured lines through the server's
// log/slog logger.
//
// # Builtins
//
//	log.debug(msg, **fields)
//	log.info(msg, **fields)
//	log.warning(msg, **fields)
//	log.error(msg, **fields)
//
// Each writes one record at slog's Debug, Info, Warn or Error level, with
// msg as its message (a str as is, any other value as str() shows it), the
// script location as the first attribute ([LocationKey], "app.star:12"),
// then the keyword arguments as attributes in the order given:
//
//	log.info("user logged in", user="bob", attempts=2)
//	→ 19:42:07 INFO user logged in at=app.star:12 user=bob attempts=2
//
// str, int (within 64 bits), float and bool fields keep their type (JSON
// logs show numbers as numbers); other values, None included, are written
// as str() shows them. Records below the logger's level (the server's
// verbosity) cost only the level check.
//
// Unlike Python's logging, arguments are not %-formatted: log.info("x %s",
// v) fails; write log.info("x %s" % v), or better log.info("x", v=v).
// The record carries the call's context (host.State.Ctx), so a handler
// that reads request ids from the context sees them.
//
// The module is immutable and safe for concurrent use, as *slog.Logger is.
package log

import (
	"fmt"
	"log/slog"
	"strconv"

	"github.com/hwebserver/hwebserver/bindings/host"
	"go.starlark.net/starlark"
	"go.starlark.net/starlarkstruct"
)

// LocationKey is the attribute that carries the script location of a
// record, "file:line".
const LocationKey = "at"

// New returns a log module writing to logger; nil means slog.Default().
func New(logger *slog.Logger) *starlarkstruct.Module {
	builtin := func(name string, level slog.Level) *starlark.Builtin {
		return starlark.NewBuiltin("log."+name, func(thread *starlark.Thread, b *starlark.Builtin, args starlark.Tuple, kwargs []starlark.Tuple) (starlark.Value, error) {
			return starlark.None, write(thread, b, logger, level, args, kwargs)
		})
	}
	return &starlarkstruct.Module{
		Name: "log",
		Members: starlark.StringDict{
			"debug":   builtin("debug", slog.LevelDebug),
			"info":    builtin("info", slog.LevelInfo),
			"warning": builtin("warning", slog.LevelWarn),
			"error":   builtin("error", slog.LevelError),
		},
	}
}

func write(thread *starlark.Thread, b *starlark.Builtin, logger *slog.Logger, level slog.Level, args starlark.Tuple, kwargs []starlark.Tuple) error {
	if len(args) == 0 {
		// log.info(msg="x", k=v): msg by keyword, as Python allows.
		for i, kv := range kwargs {
			if kv[0] == starlark.String("msg") {
				args = starlark.Tuple{kv[1]}
				kwargs = append(kwargs[:i:i], kwargs[i+1:]...)
				break
			}
		}
	}
	if len(args) != 1 {
		if len(args) > 1 {
			return fmt.Errorf(`%s: got %d positional arguments, want 1: format the message first, %s("x %%s" %% v), or pass fields, %s("x", v=v)`, b.Name(), len(args), b.Name(), b.Name())
		}
		return fmt.Errorf("%s: missing argument for msg", b.Name())
	}
	if logger == nil {
		logger = slog.Default()
	}
	ctx := host.Of(thread).Ctx
	if !logger.Enabled(ctx, level) {
		return nil
	}
	msg, ok := starlark.AsString(args[0])
	if !ok {
		msg = args[0].String()
	}
	attrs := make([]slog.Attr, 0, len(kwargs)+1)
	if thread.CallStackDepth() > 1 {
		pos := thread.CallFrame(1).Pos
		attrs = append(attrs, slog.String(LocationKey, pos.Filename()+":"+strconv.Itoa(int(pos.Line))))
	}
	for _, kv := range kwargs {
		attrs = append(attrs, attr(string(kv[0].(starlark.String)), kv[1]))
	}
	logger.LogAttrs(ctx, level, msg, attrs...)
	return nil
}

// attr converts one field to a slog attribute.
func attr(key string, v starlark.Value) slog.Attr {
	switch v := v.(type) {
	case starlark.String:
		return slog.String(key, string(v))
	case starlark.Int:
		if i, ok := v.Int64(); ok {
			return slog.Int64(key, i)
		}
	case starlark.Float:
		return slog.Float64(key, float64(v))
	case starlark.Bool:
		return slog.Bool(key, bool(v))
	}
	return slog.String(key, v.String())
}
