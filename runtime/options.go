package runtime

import (
	"io"
	"log/slog"
	"net/http"
	"time"

	"github.com/hwebserver/hwebserver/bindings"
	"github.com/hwebserver/hwebserver/runtime/listen"
	"github.com/hwebserver/hwebserver/runtime/logs"
	"github.com/hwebserver/hwebserver/runtime/settings"
	"go.starlark.net/starlark"
)

// Options configure a Server. The zero value of each field means its default.
type Options struct {
	// Script is the path of the main script.
	Script string
	// CLI holds the run() parameters typed on the command line; CLI.Given
	// names them. A parameter the operator typed overrides the script's.
	CLI *bindings.RunConfig
	// Address is the bind address; "" means 127.0.0.1.
	Address string
	// Backlog bounds the requests waiting for a worker; QueueTimeout bounds
	// how long one waits. Both answer 503 with Retry-After when exceeded.
	Backlog      int
	QueueTimeout time.Duration
	// MaxSteps limits one handler call's Starlark steps (0: no limit).
	MaxSteps uint64
	// Limits bound every client (timeouts, header size, fields,
	// connections, rate; nil: settings.DefaultLimits()). The settings
	// file's limits apply over them, except those named in LimitsTyped
	// (by flag name: typed on the command line, they win).
	Limits      *settings.Limits
	LimitsTyped map[string]bool
	// MaxMemory is the memory guard's limit on the live Go heap, in bytes
	// (--max-memory; runtime/memguard): past it the call holding the GIL
	// is stopped with 503. 0 means the default, memguard.DefaultShare
	// percent of the cgroup's or the machine's memory; a negative value
	// turns the guard off.
	MaxMemory int64
	// TempDir is where request bodies and uploads spill; "": the
	// system's temp folder.
	TempDir string
	// HTTPS serves the main port over TLS with a self-signed certificate
	// for localhost made at start (--https), unless the settings name a
	// certificate (SSL_CERTIFICATE).
	HTTPS bool
	// Store is the store backend URL typed on the command line (--store);
	// "" leaves it to the settings' STORE, else memory.
	Store string
	// ShutdownGrace bounds how long open requests may run after a stop.
	ShutdownGrace time.Duration
	// Check records run() without binding anything (hwebserver check).
	Check bool
	// Test serves the script for `hwebserver test`: run() starts the
	// server and returns at once (as with in_background=True), nothing is
	// watched for reload, and Main serves until its context ends.
	Test bool
	// DataDir is where relative sqlite:PATH databases (sql and store) live;
	// "" means the script's folder. Tests give each test a fresh one.
	DataDir string
	// Listen opens the listeners (nil: net.Listen); tests pass in-memory
	// ones (listen.Mem).
	Listen listen.ListenFunc
	// HTTPTransport, when set, carries every call of the http module
	// (t.mockHTTP answers them in tests).
	HTTPTransport http.RoundTripper
	// OnStart is called once the listeners serve and the script's top
	// level has finished (Main then serves until its context ends).
	OnStart func()
	// Stdout receives the URLs the server listens on.
	Stdout io.Writer
	// Logger and Level: the log and its adjustable minimum level.
	Logger *slog.Logger
	Level  *slog.LevelVar
	// Predeclared adds names to every script (tests use it for probes).
	Predeclared starlark.StringDict
}

// Defaults for Options fields left zero.
const (
	DefaultBacklog       = 1024
	DefaultQueueTimeout  = 30 * time.Second
	DefaultShutdownGrace = 10 * time.Second
	DefaultAddress       = "127.0.0.1"
)

func (o *Options) setDefaults() {
	if o.CLI == nil {
		o.CLI = bindings.DefaultRunConfig()
	}
	if o.Backlog <= 0 {
		o.Backlog = DefaultBacklog
	}
	if o.Limits == nil {
		l := settings.DefaultLimits()
		o.Limits = &l
	}
	if o.QueueTimeout <= 0 {
		o.QueueTimeout = DefaultQueueTimeout
	}
	if o.ShutdownGrace <= 0 {
		o.ShutdownGrace = DefaultShutdownGrace
	}
	if o.Stdout == nil {
		o.Stdout = io.Discard
	}
	if o.Level == nil {
		o.Level = new(slog.LevelVar)
	}
	if o.Logger == nil {
		o.Logger = logs.NewLogger(io.Discard, o.Level)
	}
}
