"""Per-inbox token buckets for platform API calls (LINE push 2,000/s, multicast 200/s, …).

The platform enforces its limits per account (per LINE channel) across all of our processes, so
with REDIS_URL set the buckets live in Redis (one Lua script, atomic, using Redis' clock so several
machines agree); otherwise in this process (the embedded default runs one worker).

`acquire` reserves a token and says how long to wait before sending. When the wait would be longer
than the caller is willing to block a worker (`max_wait`), nothing is reserved and the caller
schedules the send for later instead.
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass
from functools import lru_cache

from django.conf import settings

from omo.platforms.base import RateLimit

_LUA = """
local key = KEYS[1]
local rate = tonumber(ARGV[1])
local capacity = tonumber(ARGV[2])
local max_wait = tonumber(ARGV[3])
local clock = redis.call('TIME')
local now = tonumber(clock[1]) + tonumber(clock[2]) / 1000000
local state = redis.call('HMGET', key, 't', 'ts')
local tokens = tonumber(state[1]) or capacity
local ts = tonumber(state[2]) or now
tokens = math.min(capacity, tokens + math.max(0, now - ts) * rate)
local wait = 0
if tokens < 1 then wait = (1 - tokens) / rate end
if wait <= max_wait then tokens = tokens - 1 end
redis.call('HSET', key, 't', tostring(tokens), 'ts', tostring(now))
redis.call('PEXPIRE', key, math.ceil(capacity / rate * 1000) + 1000)
return tostring(wait)
"""


@dataclass
class _Bucket:
    tokens: float
    updated: float


class LocalLimiter:
    """Token buckets in this process."""

    def __init__(self) -> None:
        self._buckets: dict[str, _Bucket] = {}
        self._lock = threading.Lock()

    def acquire(self, key: str, limit: RateLimit, *, max_wait: float = 1.0) -> float:
        rate, capacity = limit.per_second, limit.capacity
        now = time.monotonic()
        with self._lock:
            bucket = self._buckets.get(key)
            if bucket is None:
                bucket = self._buckets[key] = _Bucket(tokens=capacity, updated=now)
            bucket.tokens = min(capacity, bucket.tokens + (now - bucket.updated) * rate)
            bucket.updated = now
            wait = 0.0 if bucket.tokens >= 1 else (1 - bucket.tokens) / rate
            if wait <= max_wait:
                bucket.tokens -= 1
            return wait

    def reset(self) -> None:
        with self._lock:
            self._buckets.clear()


class RedisLimiter:
    """Token buckets shared by every process through Redis."""

    def __init__(self, url: str, prefix: str = "omo:ratelimit:") -> None:
        import redis

        self._redis = redis.Redis.from_url(url)
        self._script = self._redis.register_script(_LUA)
        self._prefix = prefix

    def acquire(self, key: str, limit: RateLimit, *, max_wait: float = 1.0) -> float:
        result = self._script(keys=[self._prefix + key], args=[limit.per_second, limit.capacity, max_wait])
        return float(result)

    def reset(self) -> None:
        for key in self._redis.scan_iter(match=self._prefix + "*"):
            self._redis.delete(key)


@lru_cache(maxsize=4)
def _limiter_for(redis_url: str | None) -> LocalLimiter | RedisLimiter:
    return RedisLimiter(redis_url) if redis_url else LocalLimiter()


def limiter() -> LocalLimiter | RedisLimiter:
    return _limiter_for(getattr(settings, "REDIS_URL", None))


def acquire(inbox_id: int, endpoint: str, limit: RateLimit, *, max_wait: float = 1.0) -> float:
    """Reserve one call to `endpoint` for this inbox; returns seconds to wait (not reserved if > max_wait)."""
    return limiter().acquire(f"{inbox_id}:{endpoint}", limit, max_wait=max_wait)
