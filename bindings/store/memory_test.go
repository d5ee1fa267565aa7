package store

import (
	"context"
	"sync/atomic"
	"testing"
	"time"
)

// TestMemoryExpiry drives the memory backend's clock by hand: expired
// entries are absent at once and freed by the sweep.
func TestMemoryExpiry(t *testing.T) {
	var clock atomic.Int64
	m := newMemory(clock.Load)
	t.Cleanup(func() { m.Close() })
	ctx := context.Background()
	m.Set(ctx, "short", []byte("1"), time.Second)
	m.Set(ctx, "long", []byte("1"), time.Hour)
	m.Set(ctx, "forever", []byte("1"), 0)
	m.Incr(ctx, "counter", 1, time.Second)

	clock.Store(int64(999 * time.Millisecond))
	if left, ok, _ := m.TTL(ctx, "short"); !ok || left != time.Millisecond {
		t.Errorf("TTL(short) 1 ms before expiry = %v, %v", left, ok)
	}
	clock.Store(int64(time.Second))
	if _, ok, _ := m.Get(ctx, "short"); ok {
		t.Error("short is present at its expiry")
	}
	if n, _ := m.Incr(ctx, "counter", 1, 0); n != 1 {
		t.Errorf("incr on an expired counter = %d, want 1", n)
	}
	if keys, _ := m.Keys(ctx, "", MaxKeys); len(keys) != 3 {
		t.Errorf("keys = %q, want counter, forever, long", keys)
	}

	m.sweep()
	if n := m.entries(); n != 3 {
		t.Errorf("%d entries after the sweep, want 3 (counter, forever, long)", n)
	}
	clock.Store(int64(2 * time.Hour))
	m.sweep()
	if n := m.entries(); n != 2 {
		t.Errorf("%d entries after the second sweep, want 2 (counter, forever)", n)
	}
	for i := range m.shards {
		if s := &m.shards[i]; s.expiring != 0 {
			t.Errorf("shard %d counts %d expiring entries, want 0", i, s.expiring)
		}
	}
}

func (m *Memory) entries() int {
	n := 0
	for i := range m.shards {
		s := &m.shards[i]
		s.mu.RLock()
		n += len(s.m)
		s.mu.RUnlock()
	}
	return n
}
