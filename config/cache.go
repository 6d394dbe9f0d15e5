package config

import (
	"slices"
	"strconv"
	"strings"
	"time"
)

// CacheSettings are litellm_settings.cache and cache_params: LiteLLM's
// response cache. Config.Cache is nil when the cache is off.
type CacheSettings struct {
	// Type is CacheLocal or CacheRedis.
	Type string
	// Redis is where a CacheRedis cache lives: cache_params host, port,
	// password and url, else LiteLLM's REDIS_* variables.
	Redis RedisSettings
	// TTL is cache_params.ttl: how long an answer is kept; 0 means
	// LiteLLM's default (see DefaultLocalCacheTTL; a Redis entry without
	// one does not expire).
	TTL time.Duration
	// Namespace prefixes every key ("<namespace>:<hash>").
	Namespace string
	// Calls are the call types whose answers are cached, by LiteLLM's
	// synchronous name: CallCompletion, CallTextCompletion, CallEmbedding.
	Calls map[string]bool
	// DefaultOff is mode: default_off: only requests that ask for it
	// (cache: {use-cache: true}) are cached.
	DefaultOff bool
}

// Cache types llmvoy serves.
const (
	CacheLocal = "local"
	CacheRedis = "redis"
)

// LiteLLM's call types the cache serves (its synchronous names; the
// a-prefixed async ones mean the same through the proxy).
const (
	CallCompletion     = "completion"
	CallTextCompletion = "text_completion"
	CallEmbedding      = "embedding"
)

// DefaultLocalCacheTTL is LiteLLM's InMemoryCache default_ttl: a local
// cache keeps an answer 10 minutes unless cache_params.ttl says otherwise.
const DefaultLocalCacheTTL = 10 * time.Minute

// cacheCallTypes are the call types LiteLLM knows that llmvoy's cache
// takes; otherCallTypes the ones it knows and llmvoy does not cache.
var (
	cacheCallTypes = map[string]string{
		"completion": CallCompletion, "acompletion": CallCompletion,
		"text_completion": CallTextCompletion, "atext_completion": CallTextCompletion,
		"embedding": CallEmbedding, "aembedding": CallEmbedding,
	}
	otherCallTypes = []string{"transcription", "atranscription", "rerank", "arerank"}
)

// cache reads litellm_settings.cache and cache_params (v is
// litellm_settings). A cache llmvoy cannot serve is a warning, and the
// cache stays off.
func (p *parser) cache(v *value) *CacheSettings {
	if v == nil || v.kind != kindDict {
		return nil
	}
	on := v.get("cache")
	if on == nil {
		if params := v.get("cache_params"); params != nil {
			p.warnf(params.line, "litellm_settings.cache_params", "ignored: litellm_settings.cache is not true")
		}
		return nil
	}
	if enabled, ok := p.boolean("litellm_settings.cache", on); !ok || !enabled {
		return nil
	}
	c := &CacheSettings{Type: CacheRedis, Calls: map[string]bool{CallCompletion: true, CallTextCompletion: true, CallEmbedding: true}}
	const path = "litellm_settings.cache_params"
	var r RedisSettings
	// default_in_memory_ttl and default_in_redis_ttl: the ttl of their
	// type, over ttl (LiteLLM's Cache.__init__).
	var memoryTTL, redisTTL time.Duration
	for _, kv := range p.section(path, v.get("cache_params")) {
		kpath := joinPath(path, keyName(kv.key))
		switch keyName(kv.key) {
		case "type":
			s, _, ok := p.str(kpath, kv.val)
			if !ok {
				continue
			}
			if s != CacheLocal && s != CacheRedis {
				// LiteLLM's redis-semantic, qdrant-semantic, s3, disk.
				p.warnf(kv.val.line, kpath, "cache type %q is not supported by llmvoy (local and redis are); the response cache is off", s)
				return nil
			}
			c.Type = s
		case "host":
			r.Host, _, _ = p.str(kpath, kv.val)
		case "port":
			if n, ok := p.integer(kpath, kv.val); ok {
				if n <= 0 || n > 65535 {
					p.errorf(kv.val.line, kpath, "want a port from 1 to 65535, got %d", n)
				} else {
					r.Port = n
				}
			}
		case "password":
			s, _, _ := p.str(kpath, kv.val)
			r.Password = Secret(s)
		case "url", "redis_url":
			r.URL = p.redisURL(kpath, kv.val)
		case "ttl":
			if d, ok := p.seconds(kpath, kv.val, false); ok {
				c.TTL = d
			}
		case "default_in_memory_ttl":
			memoryTTL, _ = p.seconds(kpath, kv.val, false)
		case "default_in_redis_ttl":
			redisTTL, _ = p.seconds(kpath, kv.val, false)
		case "namespace":
			c.Namespace, _, _ = p.str(kpath, kv.val)
		case "mode":
			switch s, _, _ := p.str(kpath, kv.val); s {
			case "default_on", "":
			case "default_off":
				c.DefaultOff = true
			default:
				p.errorf(kv.val.line, kpath, "unknown mode %q; want default_on or default_off", s)
			}
		case "supported_call_types":
			c.Calls = p.cacheCalls(kpath, kv.val)
		case "redis_startup_nodes", "service_name", "sentinel_nodes":
			p.warnf(kv.key.line, kpath, "Redis Cluster and Sentinel are not supported by llmvoy; the response cache is off")
			return nil
		default:
			p.unsupported(kv.key, kpath)
		}
	}
	switch {
	case c.Type == CacheLocal && memoryTTL > 0:
		c.TTL = memoryTTL
	case c.Type == CacheRedis && redisTTL > 0:
		c.TTL = redisTTL
	}
	if c.Type == CacheRedis {
		c.Redis = p.cacheRedis(r, on.line)
	}
	return c
}

// cacheRedis completes the cache's Redis settings as LiteLLM's
// get_redis_url_from_environment and _redis_kwargs_from_environment do:
// what cache_params leaves unset comes from REDIS_URL, REDIS_HOST,
// REDIS_PORT and REDIS_PASSWORD.
func (p *parser) cacheRedis(r RedisSettings, line int) RedisSettings {
	const path = "litellm_settings.cache_params"
	if !r.Enabled() {
		if u, ok := p.lookup("REDIS_URL"); ok && u != "" {
			r.URL = p.redisURL(path+" (REDIS_URL)", &value{kind: kindStr, s: u, line: line})
		}
		if h, ok := p.lookup("REDIS_HOST"); ok {
			r.Host = h
		}
	}
	if s, ok := p.lookup("REDIS_PORT"); ok && r.Port == 0 {
		n, err := strconv.Atoi(strings.TrimSpace(s))
		if err != nil || n <= 0 || n > 65535 {
			p.errorf(line, path, "REDIS_PORT: want a port from 1 to 65535")
		} else {
			r.Port = n
		}
	}
	if s, ok := p.lookup("REDIS_PASSWORD"); ok && r.Password == "" {
		r.Password = Secret(s)
	}
	if !r.Enabled() {
		// redis-py's defaults, which LiteLLM's RedisCache ends up with.
		r.Host = "localhost"
		p.warnf(line, path, "no Redis host (cache_params.host, REDIS_HOST or REDIS_URL): using localhost:6379, as LiteLLM does")
	}
	if r.Host != "" && r.Port == 0 {
		r.Port = 6379
	}
	return r
}

// redisURL reads a redis:// or rediss:// URL; "" when wrong.
func (p *parser) redisURL(path string, v *value) Secret {
	s, _, _ := p.str(path, v)
	if s != "" && !strings.HasPrefix(s, "redis://") && !strings.HasPrefix(s, "rediss://") {
		p.errorf(v.line, path, "want a redis:// or rediss:// URL")
		return ""
	}
	return Secret(s)
}

// cacheCalls reads supported_call_types.
func (p *parser) cacheCalls(path string, v *value) map[string]bool {
	calls := make(map[string]bool)
	p.stringList(path, v, "call types", func(ipath string, item *value, s string) {
		switch {
		case cacheCallTypes[s] != "":
			calls[cacheCallTypes[s]] = true
		case slices.Contains(otherCallTypes, s):
			p.warnf(item.line, ipath, "llmvoy does not cache %s calls; ignored", s)
		default:
			p.warnf(item.line, ipath, "unknown call type %q; ignored", s)
		}
	})
	return calls
}
