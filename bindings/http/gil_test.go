package http

import (
	"context"
	"io"
	nethttp "net/http"
	"net/http/httptest"
	"sync"
	"testing"

	"github.com/hwebserver/hwebserver/bindings/host"
	"go.starlark.net/starlark"
)

// recordingLock is a size-1 semaphore standing in for the interpreter lock;
// it records the calls the builtin makes.
type recordingLock struct {
	sem    chan struct{}
	mu     sync.Mutex
	events []string
}

func (l *recordingLock) note(e string) {
	l.mu.Lock()
	l.events = append(l.events, e)
	l.mu.Unlock()
}

func (l *recordingLock) Release() {
	l.note("release")
	<-l.sem
}

func (l *recordingLock) Acquire(ctx context.Context) error {
	select {
	case l.sem <- struct{}{}:
		l.note("acquire")
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// While a call waits on its upstream, another goroutine can take the lock:
// the builtin released it, and takes it back before returning.
func TestLockReleasedWhileWaiting(t *testing.T) {
	entered, answer := make(chan struct{}), make(chan struct{})
	srv := httptest.NewServer(nethttp.HandlerFunc(func(w nethttp.ResponseWriter, r *nethttp.Request) {
		close(entered)
		<-answer
		io.WriteString(w, "late")
	}))
	defer srv.Close()

	lock := &recordingLock{sem: make(chan struct{}, 1)}
	lock.sem <- struct{}{} // the call holds the lock, as a handler does
	thread := &starlark.Thread{Name: "handler"}
	host.Set(thread, &host.State{Ctx: context.Background(), Lock: lock})
	type outcome struct {
		v   starlark.Value
		err error
	}
	done := make(chan outcome, 1)
	go func() {
		v, err := starlark.Eval(thread, "h.star", `http.get(base).text`,
			starlark.StringDict{"http": NewModule(Config{}), "base": starlark.String(srv.URL)})
		done <- outcome{v, err}
	}()

	waitFor(t, entered, "the request to arrive")
	ctx, cancel := context.WithTimeout(context.Background(), 5e9)
	defer cancel()
	if err := lock.Acquire(ctx); err != nil {
		t.Fatalf("another goroutine could not take the lock while the call waited: %v", err)
	}
	close(answer)
	lock.Release() // let the call take it back
	out := <-done
	if out.err != nil || out.v != starlark.String("late") {
		t.Fatalf("call: %v, %v", out.v, out.err)
	}
	if len(lock.sem) != 1 {
		t.Error("the call returned without holding the lock")
	}
	lock.mu.Lock()
	defer lock.mu.Unlock()
	want := []string{"release", "acquire", "release", "acquire"} // call, other, other, call
	if len(lock.events) != len(want) {
		t.Fatalf("lock events %v, want %v", lock.events, want)
	}
	for i := range want {
		if lock.events[i] != want[i] {
			t.Fatalf("lock events %v, want %v", lock.events, want)
		}
	}
}
