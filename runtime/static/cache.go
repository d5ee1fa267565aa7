package static

import (
	"container/list"
	"context"
	"errors"
	"runtime"
	"sync"
)

// cacheBytes bounds the inflated archive entries kept in memory, for all
// archives of the process together.
const cacheBytes = 32 << 20

var (
	// sharedCache outlives generations: a script reload opens its
	// archives again, but their entries stay inflated.
	sharedCache = newEntryCache(cacheBytes)
	// inflateSlots bounds the archive entries inflated at a time to half
	// the cores (at least one): inflating runs at hundreds of MB/s per
	// core, faster than most links, and the other half stays free for
	// Starlark and everything else.
	inflateSlots = newSemaphore(max(1, runtime.GOMAXPROCS(0)/2))
)

// semaphore bounds concurrent work; a slot is taken with the request's
// context.
type semaphore chan struct{}

func newSemaphore(n int) semaphore { return make(semaphore, n) }

func (s semaphore) acquire(ctx context.Context) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	select {
	case s <- struct{}{}:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

func (s semaphore) release() { <-s }

// archiveVersion is one version of an archive file on disk.
type archiveVersion struct {
	modTime int64 // unix nanoseconds
	size    int64
}

// cacheKey names an entry of one version of an archive.
type cacheKey struct {
	archive string
	version archiveVersion
	name    string
	crc     uint32
}

// entryCache holds inflated entries, least recently used out first, up to
// max bytes in all. An entry is inflated once however many requests ask
// for it at the same time. Safe for concurrent use.
type entryCache struct {
	max int64

	mu   sync.Mutex
	used int64 // bytes of the entries in lru
	m    map[cacheKey]*cacheEntry
	lru  list.List // of *cacheEntry, inflated and kept, most recent first
}

// cacheEntry is an entry being inflated (done open) or inflated.
type cacheEntry struct {
	key  cacheKey
	done chan struct{} // closed once data or err is set
	data []byte
	err  error
	elem *list.Element // in lru; nil while inflating, or when not kept
}

func newEntryCache(max int64) *entryCache {
	return &entryCache{max: max, m: map[cacheKey]*cacheEntry{}}
}

// get returns the bytes of key, calling fill for them when no other call
// is already doing it. A call that waits stops waiting when ctx ends.
func (c *entryCache) get(ctx context.Context, key cacheKey, fill func() ([]byte, error)) ([]byte, error) {
	for {
		c.mu.Lock()
		e, ok := c.m[key]
		if !ok {
			e = &cacheEntry{key: key, done: make(chan struct{})}
			c.m[key] = e
			c.mu.Unlock()
			return c.fill(e, fill)
		}
		if e.elem != nil {
			c.lru.MoveToFront(e.elem)
			c.mu.Unlock()
			return e.data, nil
		}
		c.mu.Unlock()
		select {
		case <-e.done:
		case <-ctx.Done():
			return nil, ctx.Err()
		}
		if e.err == nil {
			return e.data, nil
		}
		if !errors.Is(e.err, context.Canceled) && !errors.Is(e.err, context.DeadlineExceeded) {
			return nil, e.err
		}
		// The request that was inflating went away: take over.
	}
}

func (c *entryCache) fill(e *cacheEntry, fill func() ([]byte, error)) (data []byte, err error) {
	returned := false
	defer func() {
		if !returned {
			err = errors.New("inflating the entry panicked") // for the waiters; the panic goes on
		}
		c.mu.Lock()
		defer c.mu.Unlock()
		e.data, e.err = data, err
		close(e.done)
		if c.m[e.key] != e {
			return // dropped meanwhile
		}
		if err != nil || int64(len(data)) > c.max {
			delete(c.m, e.key) // errors are not kept: the next request tries again
			return
		}
		e.elem = c.lru.PushFront(e)
		c.used += int64(len(data))
		for c.used > c.max {
			c.remove(c.lru.Back().Value.(*cacheEntry))
		}
	}()
	data, err = fill()
	returned = true
	return data, err
}

// remove takes e out of the cache. c.mu is held.
func (c *entryCache) remove(e *cacheEntry) {
	delete(c.m, e.key)
	if e.elem != nil {
		c.lru.Remove(e.elem)
		c.used -= int64(len(e.data))
		e.elem = nil
	}
}

// dropOthers forgets the entries of archive other than those of version
// v: the file changed on disk.
func (c *entryCache) dropOthers(archive string, v archiveVersion) {
	c.mu.Lock()
	defer c.mu.Unlock()
	for k, e := range c.m {
		if k.archive == archive && k.version != v {
			c.remove(e)
		}
	}
}

// size returns the number of entries kept and their bytes.
func (c *entryCache) size() (entries int, bytes int64) {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.lru.Len(), c.used
}
