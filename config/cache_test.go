package config

import (
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

const cacheModels = "model_list:\n  - model_name: m\n    litellm_params: {model: openai/gpt-4o}\n"

func TestCacheSettings(t *testing.T) {
	cfg, warnings := mustParse(t, cacheModels+`litellm_settings:
  cache_params:
    type: redis
    host: os.environ/CACHE_HOST
    port: 6380
    password: pw
    ttl: 600
    namespace: litellm.caching
    mode: default_off
    supported_call_types: [acompletion, aembedding, atranscription]
  cache: true
`, map[string]string{"CACHE_HOST": "redis.internal"})
	require.Len(t, warnings, 1)
	require.Contains(t, warnings[0].Msg, "llmvoy does not cache atranscription calls")
	require.Equal(t, &CacheSettings{
		Type: CacheRedis, Redis: RedisSettings{Host: "redis.internal", Port: 6380, Password: "pw"},
		TTL: 600 * time.Second, Namespace: "litellm.caching", DefaultOff: true,
		Calls: map[string]bool{CallCompletion: true, CallEmbedding: true},
	}, cfg.Cache)
}

// cache: true alone is LiteLLM's default: Redis, from the REDIS_*
// variables, every call type.
func TestCacheDefaultsToRedisFromTheEnvironment(t *testing.T) {
	cfg, warnings := mustParse(t, cacheModels+"litellm_settings:\n  cache: true\n",
		map[string]string{"REDIS_HOST": "10.0.0.5", "REDIS_PORT": "6390", "REDIS_PASSWORD": "secret"})
	require.Empty(t, warnings)
	require.Equal(t, CacheRedis, cfg.Cache.Type)
	require.Equal(t, RedisSettings{Host: "10.0.0.5", Port: 6390, Password: "secret"}, cfg.Cache.Redis)
	require.Equal(t, map[string]bool{CallCompletion: true, CallTextCompletion: true, CallEmbedding: true}, cfg.Cache.Calls)

	cfg, _ = mustParse(t, cacheModels+"litellm_settings:\n  cache: true\n", map[string]string{"REDIS_URL": "redis://:pw@cache:6379/2"})
	require.Equal(t, Secret("redis://:pw@cache:6379/2"), cfg.Cache.Redis.URL)

	cfg, warnings = mustParse(t, cacheModels+"litellm_settings:\n  cache: true\n", nil)
	require.Equal(t, RedisSettings{Host: "localhost", Port: 6379}, cfg.Cache.Redis)
	require.Len(t, warnings, 1)
	require.Contains(t, warnings[0].Msg, "using localhost:6379")
}

func TestCacheOff(t *testing.T) {
	for name, src := range map[string]string{
		"no cache":        "",
		"cache false":     "litellm_settings:\n  cache: false\n",
		"semantic":        "litellm_settings:\n  cache: true\n  cache_params:\n    type: redis-semantic\n    similarity_threshold: 0.8\n",
		"qdrant":          "litellm_settings:\n  cache: true\n  cache_params: {type: qdrant-semantic}\n",
		"s3":              "litellm_settings:\n  cache: true\n  cache_params: {type: s3, s3_bucket_name: b}\n",
		"disk":            "litellm_settings:\n  cache: true\n  cache_params: {type: disk}\n",
		"cluster":         "litellm_settings:\n  cache: true\n  cache_params: {type: redis, redis_startup_nodes: [{host: a, port: 1}]}\n",
		"params no cache": "litellm_settings:\n  cache_params: {type: local}\n",
	} {
		t.Run(name, func(t *testing.T) {
			cfg, warnings := mustParse(t, cacheModels+src, nil)
			require.Nil(t, cfg.Cache)
			if name != "no cache" && name != "cache false" {
				require.NotEmpty(t, warnings)
				require.Regexp(t, "not supported by llmvoy|ignored: litellm_settings.cache is not true", warnings[0].Msg)
			}
		})
	}
}

func TestCacheLocal(t *testing.T) {
	cfg, warnings := mustParse(t, cacheModels+"litellm_settings:\n  cache: true\n  cache_params: {type: local, ttl: 5}\n", nil)
	require.Empty(t, warnings)
	require.Equal(t, CacheLocal, cfg.Cache.Type)
	require.Equal(t, 5*time.Second, cfg.Cache.TTL)
	require.False(t, cfg.Cache.Redis.Enabled())
}

func TestCacheTTLOfItsType(t *testing.T) {
	cfg, _ := mustParse(t, cacheModels+"litellm_settings:\n  cache: true\n  cache_params: {type: local, ttl: 5, default_in_memory_ttl: 7, default_in_redis_ttl: 9}\n", nil)
	require.Equal(t, 7*time.Second, cfg.Cache.TTL)
	cfg, _ = mustParse(t, cacheModels+"litellm_settings:\n  cache: true\n  cache_params: {type: redis, host: h, ttl: 5, default_in_memory_ttl: 7, default_in_redis_ttl: 9}\n", nil)
	require.Equal(t, 9*time.Second, cfg.Cache.TTL)
	cfg, _ = mustParse(t, cacheModels+"litellm_settings:\n  cache: true\n  cache_params: {type: redis, host: h, ttl: 5, default_in_memory_ttl: 7}\n", nil)
	require.Equal(t, 5*time.Second, cfg.Cache.TTL)
}
