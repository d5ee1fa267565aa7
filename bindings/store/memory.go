package store

import (
	"context"
	"hash/maphash"
	"math"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"
)

// numShards spreads keys over locks so that handlers running in parallel
// rarely wait for each other.
const numShards = 128

// sweepEvery is how often the memory backend drops expired entries that
// nobody read (reads drop nothing: an expired entry just counts as absent).
const sweepEvery = time.Second

// Memory is the in-process backend: a sharded map whose values live as
// long as the process (so they survive live reload). Expired entries are
// absent at once and freed by a sweep every second. It is safe for
// concurrent use.
type Memory struct {
	shards [numShards]shard
	seed   maphash.Seed
	// now is a monotonic clock in nanoseconds; tests replace it.
	now  func() int64
	stop chan struct{}
	done chan struct{}
	once sync.Once
}

type shard struct {
	mu sync.RWMutex
	m  map[string]entry
	// expiring counts entries with an expiry, so sweeps skip shards that
	// have none.
	expiring int
	_        [64]byte // keeps two shards' locks off one cache line
}

type entry struct {
	val []byte
	exp int64 // Memory.now() at which it expires; 0 for never
}

func (e entry) live(now int64) bool { return e.exp == 0 || e.exp > now }

// NewMemory returns an empty memory backend and starts its sweeper; Close
// stops it.
func NewMemory() *Memory {
	base := time.Now()
	return newMemory(func() int64 { return int64(time.Since(base)) })
}

func newMemory(now func() int64) *Memory {
	m := &Memory{seed: maphash.MakeSeed(), now: now, stop: make(chan struct{}), done: make(chan struct{})}
	for i := range m.shards {
		m.shards[i].m = make(map[string]entry)
	}
	go m.sweeper()
	return m
}

// InProcess reports that operations never wait, so the module need not
// release the interpreter lock around them.
func (m *Memory) InProcess() bool { return true }

func (m *Memory) shard(key string) *shard {
	return &m.shards[maphash.String(m.seed, key)%numShards]
}

// expiry returns the expiry time for ttl from now, 0 for none.
func (m *Memory) expiry(ttl time.Duration) int64 {
	if ttl <= 0 {
		return 0
	}
	return m.now() + int64(ttl)
}

func (m *Memory) Get(_ context.Context, key string) ([]byte, bool, error) {
	s := m.shard(key)
	s.mu.RLock()
	e, ok := s.m[key]
	s.mu.RUnlock()
	if !ok || (e.exp != 0 && e.exp <= m.now()) {
		return nil, false, nil
	}
	return e.val, true, nil
}

func (m *Memory) Set(_ context.Context, key string, val []byte, ttl time.Duration) error {
	s := m.shard(key)
	exp := m.expiry(ttl)
	s.mu.Lock()
	s.put(key, entry{val, exp})
	s.mu.Unlock()
	return nil
}

func (m *Memory) Add(_ context.Context, key string, val []byte, ttl time.Duration) (bool, error) {
	s := m.shard(key)
	s.mu.Lock()
	defer s.mu.Unlock()
	if e, ok := s.m[key]; ok && e.live(m.now()) {
		return false, nil
	}
	s.put(key, entry{val, m.expiry(ttl)})
	return true, nil
}

func (m *Memory) Incr(_ context.Context, key string, by int64, ttl time.Duration) (int64, error) {
	s := m.shard(key)
	s.mu.Lock()
	defer s.mu.Unlock()
	var n int64
	e, ok := s.m[key]
	if ok && e.exp != 0 && e.exp <= m.now() {
		ok, e = false, entry{}
	}
	if ok {
		var isInt bool
		if n, isInt = parseInt(e.val); !isInt {
			return 0, keyError(key, ErrNotInt)
		}
	}
	if (by > 0 && n > math.MaxInt64-by) || (by < 0 && n < math.MinInt64-by) {
		return 0, keyError(key, ErrOverflow)
	}
	n += by
	if e.exp == 0 {
		e.exp = m.expiry(ttl)
	}
	s.put(key, entry{strconv.AppendInt(nil, n, 10), e.exp})
	return n, nil
}

func (m *Memory) Delete(_ context.Context, key string) (bool, error) {
	s := m.shard(key)
	s.mu.Lock()
	defer s.mu.Unlock()
	e, ok := s.m[key]
	if !ok {
		return false, nil
	}
	s.remove(key, e)
	return e.live(m.now()), nil
}

func (m *Memory) Keys(_ context.Context, prefix string, limit int) ([]string, error) {
	now := m.now()
	var keys []string
	for i := range m.shards {
		s := &m.shards[i]
		s.mu.RLock()
		for k, e := range s.m {
			if strings.HasPrefix(k, prefix) && e.live(now) {
				keys = append(keys, k)
			}
		}
		s.mu.RUnlock()
	}
	sort.Strings(keys)
	if len(keys) > limit {
		keys = keys[:limit]
	}
	return keys, nil
}

func (m *Memory) TTL(_ context.Context, key string) (time.Duration, bool, error) {
	s := m.shard(key)
	s.mu.RLock()
	e, ok := s.m[key]
	s.mu.RUnlock()
	if !ok || e.exp == 0 {
		return 0, false, nil
	}
	left := e.exp - m.now()
	if left <= 0 {
		return 0, false, nil
	}
	return time.Duration(left), true, nil
}

// Close stops the sweeper. The values stay usable: a request still running
// during shutdown does not fail.
func (m *Memory) Close() error {
	m.once.Do(func() {
		close(m.stop)
		<-m.done
	})
	return nil
}

// put and remove keep s.expiring right; the caller holds s.mu.
func (s *shard) put(key string, e entry) {
	if old, ok := s.m[key]; ok && old.exp != 0 {
		s.expiring--
	}
	if e.exp != 0 {
		s.expiring++
	}
	s.m[key] = e
}

func (s *shard) remove(key string, e entry) {
	if e.exp != 0 {
		s.expiring--
	}
	delete(s.m, key)
}

func (m *Memory) sweeper() {
	defer close(m.done)
	tick := time.NewTicker(sweepEvery)
	defer tick.Stop()
	for {
		select {
		case <-m.stop:
			return
		case <-tick.C:
			m.sweep()
		}
	}
}

// sweep frees the expired entries, one shard at a time so that no lock is
// held for long.
func (m *Memory) sweep() {
	for i := range m.shards {
		s := &m.shards[i]
		s.mu.Lock()
		if s.expiring > 0 {
			now := m.now()
			for k, e := range s.m {
				if !e.live(now) {
					s.remove(k, e)
				}
			}
		}
		s.mu.Unlock()
	}
}
