// Package sched is how Starlark work is scheduled: [Pool], the bounded
// admission semaphore with its backlog (503 when full or after a wait),
// and [GIL], the global interpreter lock with FIFO hand-off, seen by one
// call through a [Handle] that also keeps the switch interval. Both are
// safe for concurrent use; a Handle belongs to one call.
package sched
