package counters

import (
	"context"
	"maps"
	"strconv"
	"time"

	"github.com/redis/go-redis/v9"
)

// DeadlineStore keeps named sets of members, each member until its
// deadline: the deployments cooling down and when each cooldown ends. Like
// counters, in process or in Redis shared by replicas. Deadlines are
// absolute times, compared with the now the caller passes: replicas agree
// on them as well as their clocks agree. Safe for concurrent use.
type DeadlineStore interface {
	// Extend makes member's deadline in set at, unless it is later already,
	// and returns the member's deadline. Members whose deadline is not
	// after now are dropped.
	Extend(ctx context.Context, set, member string, at, now time.Time) (time.Time, error)
	// Deadlines returns the members of set whose deadline is after now,
	// with their deadlines.
	Deadlines(ctx context.Context, set string, now time.Time) (map[string]time.Time, error)
}

var (
	_ DeadlineStore = (*Local)(nil)
	_ DeadlineStore = (*Redis)(nil)
)

// Extend implements DeadlineStore; it never fails.
func (l *Local) Extend(_ context.Context, set, member string, at, now time.Time) (time.Time, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	s := l.setLocked(set, now)
	if at.After(s[member]) {
		s[member] = at
	}
	if !s[member].After(now) {
		delete(s, member)
		return time.Time{}, nil
	}
	return s[member], nil
}

// Deadlines implements DeadlineStore; it never fails.
func (l *Local) Deadlines(_ context.Context, set string, now time.Time) (map[string]time.Time, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return maps.Clone(l.setLocked(set, now)), nil
}

// replaceDeadlines makes set's members exactly m.
func (l *Local) replaceDeadlines(set string, m map[string]time.Time) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.sets == nil {
		l.sets = make(map[string]map[string]time.Time)
	}
	l.sets[set] = maps.Clone(m)
}

// setLocked returns set, without the members whose deadline passed.
func (l *Local) setLocked(set string, now time.Time) map[string]time.Time {
	if l.sets == nil {
		l.sets = make(map[string]map[string]time.Time)
	}
	s := l.sets[set]
	if s == nil {
		s = make(map[string]time.Time)
		l.sets[set] = s
	}
	maps.DeleteFunc(s, func(_ string, at time.Time) bool { return !at.After(now) })
	return s
}

// deadlineSlack keeps a Redis set a while after its last deadline, for
// replicas whose clocks are behind.
const deadlineSlack = time.Minute

// extendScript raises a member's deadline (Unix milliseconds) in a hash, drops
// the members whose deadline passed, and makes the hash expire after the
// last deadline, in one step.
var extendScript = redis.NewScript(`
local at, now = tonumber(ARGV[2]), tonumber(ARGV[3])
local held = tonumber(redis.call('HGET', KEYS[1], ARGV[1]) or '0')
if at > held then
  redis.call('HSET', KEYS[1], ARGV[1], ARGV[2])
  held = at
end
local last = now
local all = redis.call('HGETALL', KEYS[1])
for i = 1, #all, 2 do
  local v = tonumber(all[i+1]) or 0
  if v <= now then redis.call('HDEL', KEYS[1], all[i]) elseif v > last then last = v end
end
if last > now then redis.call('PEXPIRE', KEYS[1], last - now + tonumber(ARGV[4])) end
return held`)

// Extend implements DeadlineStore on a Redis hash of member → deadline in
// Unix milliseconds. A Redis failure is not returned: the set is kept in
// process, from the members last seen.
func (s *Redis) Extend(ctx context.Context, set, member string, at, now time.Time) (time.Time, error) {
	if !s.up.Load() {
		return s.mirror.Extend(ctx, set, member, at, now)
	}
	rctx, cancel := context.WithTimeout(ctx, Timeout)
	defer cancel()
	ms, err := extendScript.Run(rctx, s.client, []string{set}, member, at.UnixMilli(), now.UnixMilli(), deadlineSlack.Milliseconds()).Int64()
	if err != nil {
		s.failed(ctx, err)
		return s.mirror.Extend(ctx, set, member, at, now)
	}
	held := time.UnixMilli(ms)
	if !held.After(now) {
		held = time.Time{}
	}
	s.mirror.Extend(ctx, set, member, held, now)
	return held, nil
}

// Deadlines implements DeadlineStore. A Redis failure is not returned: the
// members are the ones kept in process.
func (s *Redis) Deadlines(ctx context.Context, set string, now time.Time) (map[string]time.Time, error) {
	if !s.up.Load() {
		return s.mirror.Deadlines(ctx, set, now)
	}
	rctx, cancel := context.WithTimeout(ctx, Timeout)
	defer cancel()
	all, err := s.client.HGetAll(rctx, set).Result()
	if err != nil {
		s.failed(ctx, err)
		return s.mirror.Deadlines(ctx, set, now)
	}
	m := make(map[string]time.Time, len(all))
	for member, v := range all {
		ms, err := strconv.ParseInt(v, 10, 64)
		if at := time.UnixMilli(ms); err == nil && at.After(now) {
			m[member] = at
		}
	}
	s.mirror.replaceDeadlines(set, m)
	return m, nil
}
