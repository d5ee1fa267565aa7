package listen

import (
	"context"
	"errors"
	"net"
	"sync"
)

// Mem is a listener whose connections are in-memory pipes (net.Pipe): the
// server side of `hwebserver test`, which serves requests through the real
// http.Server without opening a socket. Dial makes a connection to it.
// Safe for concurrent use.
type Mem struct {
	addr   *net.TCPAddr
	conns  chan net.Conn
	closed chan struct{}
	once   sync.Once
}

// NewMem returns an in-memory listener that reports addr as its address.
func NewMem(addr *net.TCPAddr) *Mem {
	return &Mem{addr: addr, conns: make(chan net.Conn), closed: make(chan struct{})}
}

// Accept waits for the next Dial.
func (m *Mem) Accept() (net.Conn, error) {
	select {
	case c := <-m.conns:
		return c, nil
	case <-m.closed:
		return nil, net.ErrClosed
	}
}

// Close makes Accept and Dial fail from now on.
func (m *Mem) Close() error {
	m.once.Do(func() { close(m.closed) })
	return nil
}

// Addr is the address given to NewMem.
func (m *Mem) Addr() net.Addr { return m.addr }

// Dial connects to the listener; it has the signature of
// net.Dialer.DialContext, for an http.Transport.
func (m *Mem) Dial(ctx context.Context, _, _ string) (net.Conn, error) {
	client, server := net.Pipe()
	select {
	case m.conns <- server:
		return client, nil
	case <-m.closed:
		client.Close()
		server.Close()
		return nil, errors.New("dial: the in-memory server is closed")
	case <-ctx.Done():
		client.Close()
		server.Close()
		return nil, ctx.Err()
	}
}
