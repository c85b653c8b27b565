"""The cluster's settings (docs/scaling.md): Redis through Sentinel, the read replica, PgBouncer's transaction mode."""

from __future__ import annotations

import json

from tests.project.test_settings import manage

SENTINELS = "10.0.0.1:26379,10.0.0.2:26379,sentinel-3.example:26380"
SHOW_REDIS = (
    "import json; from django.conf import settings as s;"
    "print(json.dumps([s.CHANNEL_LAYERS['default']['CONFIG']['hosts'][0], s.CACHES['default']]))"
)


def test_redis_sentinels_put_the_channel_layer_and_the_cache_behind_sentinel() -> None:
    result = manage(
        "shell",
        "-v",
        "0",
        "-c",
        SHOW_REDIS,
        DEBUG="1",
        SECRET_KEY="dev",
        REDIS_SENTINELS=SENTINELS,
        REDIS_SENTINEL_MASTER="pay",
        REDIS_SENTINEL_DB="3",
    )
    assert result.returncode == 0, result.stderr
    layer, cache = json.loads(result.stdout)
    sentinels = [["10.0.0.1", 26379], ["10.0.0.2", 26379], ["sentinel-3.example", 26380]]
    assert (layer["sentinels"], layer["master_name"], layer["db"]) == (sentinels, "pay", 3)
    assert "address" not in layer and layer["socket_timeout"] is None  # idle subscriptions never time out
    assert cache["LOCATION"] == "redis://pay/3"
    assert cache["OPTIONS"]["CONNECTION_FACTORY"] == "django_redis.pool.SentinelConnectionFactory"
    assert cache["OPTIONS"]["SENTINELS"] == sentinels


def test_the_sentinel_master_is_named_paylane_unless_told() -> None:
    result = manage("shell", "-v", "0", "-c", SHOW_REDIS, DEBUG="1", SECRET_KEY="dev", REDIS_SENTINELS=SENTINELS)
    layer, cache = json.loads(result.stdout)
    assert (layer["master_name"], layer["db"], cache["LOCATION"]) == ("paylane", 0, "redis://paylane/0")


def test_redis_url_and_redis_sentinels_together_or_a_bad_sentinel_list_refuse_to_start() -> None:
    both = manage("check", DEBUG="1", SECRET_KEY="dev", REDIS_SENTINELS=SENTINELS, REDIS_URL="redis://x:6379/0")
    assert both.returncode != 0 and "not both" in both.stderr
    bad = manage("check", DEBUG="1", SECRET_KEY="dev", REDIS_SENTINELS="10.0.0.1,10.0.0.2:26379")
    assert bad.returncode != 0 and "REDIS_SENTINELS must look like host:26379" in bad.stderr
