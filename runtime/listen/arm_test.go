package listen

import (
	"net"
	"testing"
	"testing/synctest"
	"time"
)

// deadlineConn counts the write deadlines set on it.
type deadlineConn struct {
	net.Conn
	sets []time.Time
}

func (c *deadlineConn) SetWriteDeadline(t time.Time) error {
	c.sets = append(c.sets, t)
	return nil
}

// A write re-arms the write deadline only when the one armed is a quarter
// of the timeout old; a deadline of the user's earlier than the timeout's
// is kept, and every write weighs it again.
func TestArmOnlyWhenStale(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		const timeout = 8 * time.Second
		dc := &deadlineConn{}
		c := &conn{Conn: dc, timeout: timeout, born: time.Now()}
		c.arm(false)
		if len(dc.sets) != 1 || !dc.sets[0].Equal(time.Now().Add(timeout)) {
			t.Fatalf("first write: deadlines set %v, want one, a timeout from now", dc.sets)
		}
		time.Sleep(timeout/4 - time.Millisecond)
		c.arm(false)
		if len(dc.sets) != 1 {
			t.Fatalf("a write within a quarter of the timeout re-armed: %v", dc.sets)
		}
		time.Sleep(time.Millisecond)
		c.arm(false)
		if len(dc.sets) != 2 || !dc.sets[1].Equal(time.Now().Add(timeout)) {
			t.Fatalf("a write a quarter of the timeout later: deadlines %v, want a second one", dc.sets)
		}
		c.arm(true) // after a write that moved bytes: always
		if len(dc.sets) != 3 {
			t.Fatalf("arm(true) did not re-arm: %v", dc.sets)
		}

		user := time.Now().Add(time.Second)
		c.SetWriteDeadline(user)
		c.arm(false)
		if last := dc.sets[len(dc.sets)-1]; !last.Equal(user) {
			t.Fatalf("with the user's deadline a second away, the write's deadline is %v, want %v", last, user)
		}
		c.SetWriteDeadline(time.Time{})
		time.Sleep(timeout)
		c.arm(false)
		if last := dc.sets[len(dc.sets)-1]; !last.Equal(time.Now().Add(timeout)) {
			t.Fatalf("after the user's deadline is cleared: %v, want a timeout from now", last)
		}
	})
}
