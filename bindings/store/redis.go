package store

import (
	"context"
	"errors"
	"fmt"
	"net/url"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/redis/go-redis/v9"
	"github.com/redis/go-redis/v9/maintnotifications"
)

// redisStore keeps values in Redis, one Redis key per store key with no
// namespace of its own (choose the database, or a key prefix, to share a
// server). Expiry and incr are Redis's own.
type redisStore struct {
	url     string
	c       *redis.Client
	closing sync.Once
}

// Timeouts for a Redis that is down or stuck, so a request fails with a
// 503 in seconds instead of hanging. A URL may set its own
// (?dial_timeout=…, go-redis's ParseURL options).
const (
	redisDialTimeout = time.Second
	redisIOTimeout   = 3 * time.Second
)

func openRedis(rawURL string) (*redisStore, error) {
	opt, err := redis.ParseURL(rawURL)
	if err != nil {
		// url.Error repeats the URL, password included.
		var ue *url.Error
		if errors.As(err, &ue) {
			err = ue.Err
		}
		return nil, fmt.Errorf("store %s: %w", Redact(rawURL), err)
	}
	if opt.DialTimeout == 0 {
		opt.DialTimeout = redisDialTimeout
	}
	if opt.ReadTimeout == 0 {
		opt.ReadTimeout = redisIOTimeout
	}
	if opt.WriteTimeout == 0 {
		opt.WriteTimeout = redisIOTimeout
	}
	if opt.MaxRetries == 0 {
		// No retries: go-redis would resend an INCRBY whose reply was
		// lost, counting it twice. Pooled connections that a restarted
		// Redis closed are dropped when taken from the pool, so the first
		// operation after a restart works without a retry.
		opt.MaxRetries = -1
	}
	// One dial attempt per operation: a down Redis fails the request at
	// once rather than after go-redis's retries and backoff.
	opt.DialerRetries = 1
	opt.ContextTimeoutEnabled = true
	// A plain Redis sends no maintenance notifications; skip the handshake
	// and the machinery for them.
	opt.MaintNotificationsConfig = &maintnotifications.Config{Mode: maintnotifications.ModeDisabled}
	return &redisStore{url: rawURL, c: redis.NewClient(opt)}, nil
}

func (s *redisStore) fail(err error) error { return Unavailable(s.url, err) }

func (s *redisStore) Get(ctx context.Context, key string) ([]byte, bool, error) {
	val, err := s.c.Get(ctx, key).Bytes()
	switch {
	case err == nil:
		return val, true, nil
	case errors.Is(err, redis.Nil):
		return nil, false, nil
	case isReply(err, "WRONGTYPE"):
		// Another program made key a list, hash, …: a script error, not an outage.
		return nil, false, fmt.Errorf("key %q: %w", key, err)
	}
	return nil, false, s.fail(err)
}

func (s *redisStore) Set(ctx context.Context, key string, val []byte, ttl time.Duration) error {
	if err := s.c.Set(ctx, key, val, millis(ttl)).Err(); err != nil {
		return s.fail(err)
	}
	return nil
}

func (s *redisStore) Add(ctx context.Context, key string, val []byte, ttl time.Duration) (bool, error) {
	ok, err := s.c.SetNX(ctx, key, val, millis(ttl)).Result()
	if err != nil {
		return false, s.fail(err)
	}
	return ok, nil
}

// incrTTL is INCRBY that sets an expiry on a key that has none, in one
// atomic step (a script runs alone on the server).
var incrTTL = redis.NewScript(`
local n = redis.call('INCRBY', KEYS[1], ARGV[1])
if redis.call('PTTL', KEYS[1]) == -1 then
	redis.call('PEXPIRE', KEYS[1], ARGV[2])
end
return n`)

func (s *redisStore) Incr(ctx context.Context, key string, by int64, ttl time.Duration) (int64, error) {
	var n int64
	var err error
	if ttl > 0 {
		n, err = incrTTL.Run(ctx, s.c, []string{key}, by, millis(ttl).Milliseconds()).Int64()
	} else {
		n, err = s.c.IncrBy(ctx, key, by).Result()
	}
	switch {
	case err == nil:
		return n, nil
	case isReply(err, "not an integer"), isReply(err, "WRONGTYPE"):
		return 0, keyError(key, ErrNotInt)
	case isReply(err, "overflow"):
		return 0, keyError(key, ErrOverflow)
	}
	return 0, s.fail(err)
}

// isReply reports whether err is an error reply of the server (not of the
// network) that contains text; a script's error reply holds the command's.
func isReply(err error, text string) bool {
	var reply redis.Error
	return errors.As(err, &reply) && strings.Contains(err.Error(), text)
}

func (s *redisStore) Delete(ctx context.Context, key string) (bool, error) {
	n, err := s.c.Del(ctx, key).Result()
	if err != nil {
		return false, s.fail(err)
	}
	return n > 0, nil
}

// redisScanCount is the COUNT hint of each SCAN step.
const redisScanCount = 1000

func (s *redisStore) Keys(ctx context.Context, prefix string, limit int) ([]string, error) {
	// SCAN returns keys in no order and may repeat one, so collect them
	// all, then sort and cut.
	seen := map[string]struct{}{}
	match := globEscape(prefix) + "*"
	var cursor uint64
	for {
		batch, next, err := s.c.Scan(ctx, cursor, match, redisScanCount).Result()
		if err != nil {
			return nil, s.fail(err)
		}
		for _, k := range batch {
			seen[k] = struct{}{}
		}
		if cursor = next; cursor == 0 {
			break
		}
	}
	keys := make([]string, 0, len(seen))
	for k := range seen {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	if len(keys) > limit {
		keys = keys[:limit]
	}
	return keys, nil
}

// globEscape quotes the characters special in a Redis MATCH pattern.
func globEscape(s string) string {
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		switch s[i] {
		case '*', '?', '[', ']', '\\':
			b.WriteByte('\\')
		}
		b.WriteByte(s[i])
	}
	return b.String()
}

func (s *redisStore) TTL(ctx context.Context, key string) (time.Duration, bool, error) {
	left, err := s.c.PTTL(ctx, key).Result()
	if err != nil {
		return 0, false, s.fail(err)
	}
	if left < 0 { // -2: no key, -1: no expiry
		return 0, false, nil
	}
	return left, true, nil
}

func (s *redisStore) Close() error {
	var err error
	s.closing.Do(func() { err = s.c.Close() })
	return err
}
