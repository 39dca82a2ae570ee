"""Token buckets per inbox: in this process by default, shared through Redis when REDIS_URL is set."""

from __future__ import annotations

import os
import uuid

import pytest

from omo.platforms.base import RateLimit
from omo.platforms.ratelimit import LocalLimiter, RedisLimiter

# 5 per 100 s, burst 5: a token every 20 s, so the time the calls themselves take (even seconds on a
# loaded machine) moves the waits by a hundredth of that at most.
LIMIT = RateLimit(5, per_seconds=100)
TOKEN = 20.0


def exercise(limiter, key: str) -> None:
    limit = LIMIT
    waits = [limiter.acquire(key, limit, max_wait=1000) for _ in range(7)]
    assert waits[:5] == [0.0] * 5
    assert TOKEN - 0.5 < waits[5] <= TOKEN + 1e-6  # the 6th waits one token
    assert 2 * TOKEN - 0.5 < waits[6] <= 2 * TOKEN + 1e-6  # the 7th waits two
    # beyond what the caller will wait: nothing is reserved
    assert limiter.acquire(key, limit, max_wait=1) > 1
    assert limiter.acquire(key, limit, max_wait=1000) == pytest.approx(waits[6] + TOKEN, abs=0.5)
    # another inbox has its own bucket
    assert limiter.acquire(key + ":other", limit) == 0.0


def test_local_token_bucket():
    exercise(LocalLimiter(), "1:push")


def test_limits_as_data_match_line():
    from omo.platforms.line.adapter import LINE_LIMITS

    assert LINE_LIMITS.rate_limits["push"].per_second == 2000
    assert LINE_LIMITS.rate_limits["multicast"].per_second == 200
    assert LINE_LIMITS.max_messages_per_request == 5
    assert LINE_LIMITS.reply_token_life.total_seconds() < 60


@pytest.mark.redis
def test_redis_token_bucket_shared_by_processes():
    limiter = RedisLimiter(os.environ["REDIS_URL"], prefix=f"omo-test:{uuid.uuid4().hex}:")
    try:
        exercise(limiter, "1:push")
        # a second limiter object (another process) sees the same bucket
        twin = RedisLimiter(os.environ["REDIS_URL"], prefix=limiter._prefix)
        assert twin.acquire("1:push", LIMIT, max_wait=1000) > 3 * TOKEN - 0.5
    finally:
        limiter.reset()
