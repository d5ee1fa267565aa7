// Package os is the predeclared os module of scripts (SPEC §11), after
// Python's os, reduced to reading the environment.
//
// # Builtins
//
//	os.getenv(key, default=None)  the variable's value, or default when unset
//	os.environ                    a frozen dict of every variable, in the
//	                              environment's order
//
// Both read a snapshot taken when the module is built ([New]), so a script
// sees one consistent environment for its whole generation; an operator
// changes it by restarting the server. os.environ is frozen: a script
// cannot set variables (Python's os.environ["X"] = "1" fails), since the
// process environment is shared by every handler and by the server.
//
// Nothing else of Python's os is here, on purpose: no files, processes,
// users or working directory. Handlers run inside a server that may serve
// untrusted requests; file access goes through hwebserver (fileResponse,
// static directories, uploads), outside state through store and sql.
//
// The module is immutable and safe for concurrent use.
package os

import (
	"fmt"
	goos "os"
	"strings"

	"go.starlark.net/starlark"
	"go.starlark.net/starlarkstruct"
)

// New returns an os module over environ, a list of "key=value" strings as
// os.Environ returns (see [FromProcess]). When a key repeats, the first
// one wins, as in os.Getenv; entries without "=" are ignored.
func New(environ []string) *starlarkstruct.Module {
	env := starlark.NewDict(len(environ))
	for _, kv := range environ {
		// A leading "=" is part of the key (Windows keeps "=C:" entries).
		i := strings.IndexByte(kv[min(1, len(kv)):], '=')
		if i < 0 {
			continue
		}
		i += min(1, len(kv))
		k := starlark.String(kv[:i])
		if _, found, _ := env.Get(k); found {
			continue
		}
		_ = env.SetKey(k, starlark.String(kv[i+1:]))
	}
	env.Freeze()
	return &starlarkstruct.Module{
		Name: "os",
		Members: starlark.StringDict{
			"environ": env,
			"getenv": starlark.NewBuiltin("os.getenv", func(_ *starlark.Thread, b *starlark.Builtin, args starlark.Tuple, kwargs []starlark.Tuple) (starlark.Value, error) {
				var key string
				var dflt starlark.Value = starlark.None
				if err := starlark.UnpackArgs(b.Name(), args, kwargs, "key", &key, "default?", &dflt); err != nil {
					return nil, err
				}
				v, found, err := env.Get(starlark.String(key))
				if err != nil {
					return nil, fmt.Errorf("%s: %v", b.Name(), err)
				}
				if !found {
					return dflt, nil
				}
				return v, nil
			}),
		},
	}
}

// FromProcess returns an os module over this process's environment.
func FromProcess() *starlarkstruct.Module { return New(goos.Environ()) }
