package bindings

import (
	"context"
	"fmt"
	"math"
	"time"

	"github.com/hwebserver/hwebserver/bindings/base64"
	"github.com/hwebserver/hwebserver/bindings/hashlib"
	"github.com/hwebserver/hwebserver/bindings/hmac"
	"github.com/hwebserver/hwebserver/bindings/os"
	"github.com/hwebserver/hwebserver/bindings/random"
	"github.com/hwebserver/hwebserver/bindings/re"
	"github.com/hwebserver/hwebserver/bindings/secrets"
	"github.com/hwebserver/hwebserver/bindings/uuid"

	"github.com/hwebserver/hwebserver/bindings/host"
	"go.starlark.net/lib/json"
	starmath "go.starlark.net/lib/math"
	startime "go.starlark.net/lib/time"
	"go.starlark.net/starlark"
	"go.starlark.net/starlarkstruct"
)

// Predeclared returns the names every script and loaded module sees:
// hwebserver (the given module) and the Standard modules. The runtime adds
// the modules that hold state outside the script (http, store, sql) and
// load() adds __name__ per file.
func Predeclared(hwebserver *starlarkstruct.Module) starlark.StringDict {
	d := Standard()
	d["hwebserver"] = hwebserver
	return d
}

// Standard returns the modules that need no server: json, math, time (with
// sleep), struct, and the Python-named ones: re, hashlib, hmac, base64,
// secrets, uuid, random (a new one each call, so a seed() lasts one
// generation) and os (the process's environment). Test files (hwebserver
// test) see them too. The runtime adds log, which writes to its logger.
func Standard() starlark.StringDict {
	return starlark.StringDict{
		"json":    json.Module,
		"math":    starmath.Module,
		"time":    timeModule,
		"struct":  starlark.NewBuiltin("struct", starlarkstruct.Make),
		"re":      re.Module,
		"hashlib": hashlib.Module,
		"hmac":    hmac.Module,
		"base64":  base64.Module,
		"secrets": secrets.Module,
		"uuid":    uuid.Module,
		"random":  random.New(),
		"os":      os.FromProcess(),
	}
}

// timeModule is go.starlark.net's time module plus sleep(seconds).
var timeModule = func() *starlarkstruct.Module {
	members := make(starlark.StringDict, len(startime.Module.Members)+1)
	for k, v := range startime.Module.Members {
		members[k] = v
	}
	members["sleep"] = starlark.NewBuiltin("time.sleep", sleep)
	return &starlarkstruct.Module{Name: "time", Members: members}
}()

// sleep waits without holding the interpreter lock, and wakes early when the
// call is cancelled.
func sleep(thread *starlark.Thread, b *starlark.Builtin, args starlark.Tuple, kwargs []starlark.Tuple) (starlark.Value, error) {
	var secs starlark.Value
	if err := starlark.UnpackPositionalArgs(b.Name(), args, kwargs, 1, &secs); err != nil {
		return nil, err
	}
	f, ok := starlark.AsFloat(secs)
	if !ok {
		return nil, fmt.Errorf("%s: got %s, want int or float seconds", b.Name(), secs.Type())
	}
	if f < 0 || math.IsNaN(f) || f > 1e9 {
		return nil, fmt.Errorf("%s: got %v, want a number of seconds >= 0", b.Name(), f)
	}
	d := time.Duration(f * float64(time.Second))
	err := host.Blocking(thread, func(ctx context.Context) {
		t := time.NewTimer(d)
		defer t.Stop()
		select {
		case <-t.C:
		case <-ctx.Done():
		}
	})
	if err != nil {
		return nil, fmt.Errorf("%s: %w", b.Name(), err)
	}
	return starlark.None, nil
}
