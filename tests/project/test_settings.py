"""Settings: embedded by default, production-safe with DEBUG=0."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


def manage(*args: str, **env: str) -> subprocess.CompletedProcess[str]:
    clean = {k: v for k, v in os.environ.items() if k not in {"DEBUG", "SECRET_KEY", "DATABASE_URL", "REDIS_URL"}}
    return subprocess.run(
        [sys.executable, "manage.py", *args], cwd=ROOT, env={**clean, **env}, capture_output=True, text=True, timeout=60
    )


def test_check_deploy_is_clean_with_debug_off() -> None:
    result = manage(
        "check",
        "--deploy",
        "--fail-level",
        "WARNING",
        DEBUG="0",
        SECRET_KEY="x" * 64 + "-production-grade-secret",
        ALLOWED_HOSTS="pay.example.com",
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "no issues" in result.stdout


def test_the_system_check_is_clean_in_development_too() -> None:
    result = manage("check", "--fail-level", "WARNING", DEBUG="1", SECRET_KEY="dev")
    assert result.returncode == 0, result.stdout + result.stderr
    assert "no issues" in result.stdout


def test_debug_off_without_a_secret_key_refuses_to_start() -> None:
    result = manage("check", DEBUG="0", SECRET_KEY="")
    assert result.returncode != 0
    assert "SECRET_KEY is not set" in result.stderr


def test_with_no_environment_the_service_is_embedded() -> None:
    code = (
        "from django.conf import settings as s;"
        "print(s.DATABASES['default']['ENGINE'], s.DATABASES['default']['OPTIONS']['transaction_mode'],"
        " s.CHANNEL_LAYERS['default']['BACKEND'], s.TIME_ZONE, s.PAYLANE_CURRENCY)"
    )
    result = manage("shell", "-v", "0", "-c", code, DEBUG="1", SECRET_KEY="dev")
    assert result.stdout.split() == [
        "django.db.backends.sqlite3",
        "IMMEDIATE",
        "channels.layers.InMemoryChannelLayer",
        "Asia/Kolkata",
        "INR",
    ], result.stderr


def test_database_url_and_redis_url_switch_to_the_real_parts() -> None:
    code = (
        "from django.conf import settings as s;"
        "print(s.DATABASES['default']['ENGINE'], s.CHANNEL_LAYERS['default']['BACKEND'])"
    )
    result = manage(
        "shell",
        "-v",
        "0",
        "-c",
        code,
        DEBUG="1",
        SECRET_KEY="dev",
        DATABASE_URL="postgres://u@db.invalid:5432/x",
        REDIS_URL="redis://cache.invalid:6379/0",
    )
    assert result.stdout.split() == [
        "django.db.backends.postgresql",
        "realtime.channel_layer.LocalChannelPubSubLayer",
    ], result.stderr


def test_production_cookies_are_secure_and_host_prefixed() -> None:
    code = (
        "from django.conf import settings as s;"
        "print(s.SESSION_COOKIE_NAME, s.CSRF_COOKIE_NAME, s.SESSION_COOKIE_SECURE,"
        " s.SECURE_SSL_REDIRECT, s.SECURE_HSTS_SECONDS > 0)"
    )
    prod = manage("shell", "-v", "0", "-c", code, DEBUG="0", SECRET_KEY="s" * 60)
    assert prod.stdout.split() == ["__Host-sessionid", "__Host-csrftoken", "True", "True", "True"], prod.stderr
    behind_proxy = manage("shell", "-v", "0", "-c", code, DEBUG="0", SECRET_KEY="s" * 60, SECURE_SSL_REDIRECT="0")
    assert behind_proxy.stdout.split()[3] == "False"


@pytest.mark.parametrize(("value", "seconds"), [("30d", 2592000), ("12h", 43200), ("90m", 5400), ("3600", 3600)])
def test_the_token_ttl_is_a_duration_with_an_optional_unit(value: str, seconds: int) -> None:
    code = "from django.conf import settings as s; print(int(s.PAYLANE_TOKEN_TTL.total_seconds()))"
    result = manage("shell", "-v", "0", "-c", code, DEBUG="1", SECRET_KEY="dev", PAYLANE_TOKEN_TTL=value)
    assert result.stdout.split() == [str(seconds)], result.stderr


@pytest.mark.parametrize("value", ["0", "soon", "-5d", "1w"])
def test_a_token_ttl_that_is_not_a_positive_duration_refuses_to_start(value: str) -> None:
    result = manage("check", DEBUG="1", SECRET_KEY="dev", PAYLANE_TOKEN_TTL=value)
    assert result.returncode != 0
    assert "PAYLANE_TOKEN_TTL must be a positive duration" in result.stderr


def test_the_admin_asks_for_a_one_time_code_by_default_in_production_only() -> None:
    def admin_otp(**env: str) -> str:
        code = "from django.conf import settings as s; print(s.PAYLANE_ADMIN_OTP)"
        result = manage("shell", "-v", "0", "-c", code, SECRET_KEY="x" * 64, **env)
        assert result.returncode == 0, result.stderr
        return result.stdout.strip()

    assert admin_otp(DEBUG="0") == "True"
    assert admin_otp(DEBUG="1") == "False"
    assert admin_otp(DEBUG="0", PAYLANE_ADMIN_OTP="0") == "False"
    assert admin_otp(DEBUG="1", PAYLANE_ADMIN_OTP="1") == "True"


def test_background_tasks_queue_in_the_service_database_and_no_one_is_mailed_by_default() -> None:
    code = (
        "from django.conf import settings as s; from django.tasks import task_backends; b = task_backends['default'];"
        "from django.core.mail import mailers; m = mailers.default;"
        "print(type(b).__module__, type(b).__name__, s.ADMINS, type(m).__module__, m.host, m.port)"
    )
    result = manage("shell", "-v", "0", "-c", code, DEBUG="1", SECRET_KEY="dev")
    assert result.stdout.split() == [
        "django_tasks_db.backend",
        "DatabaseBackend",
        "[]",
        "django.core.mail.backends.smtp",
        "localhost",
        "25",
    ], result.stderr


def test_email_url_and_admins_configure_the_mail_to_the_operators() -> None:
    code = (
        "from django.conf import settings as s; from django.core.mail import mailers; m = mailers.default;"
        "print(s.ADMINS, type(m).__module__, m.host, m.port, m.use_tls, m.username)"
    )
    result = manage(
        "shell",
        "-v",
        "0",
        "-c",
        code,
        DEBUG="1",
        SECRET_KEY="dev",
        ADMINS="ops@example.com",
        EMAIL_URL="smtp+tls://mailer:secret@mail.example.com:587",
    )
    assert result.stdout.split() == [
        "['ops@example.com']",
        "django.core.mail.backends.smtp",
        "mail.example.com",
        "587",
        "True",
        "mailer",
    ], result.stderr


def test_a_worker_timeout_shorter_than_two_heartbeats_refuses_to_start() -> None:
    result = manage(
        "check", DEBUG="1", SECRET_KEY="dev", PAYLANE_JOBS_HEARTBEAT="10s", PAYLANE_JOBS_WORKER_TIMEOUT="15s"
    )
    assert result.returncode != 0
    assert "PAYLANE_JOBS_WORKER_TIMEOUT must be at least twice PAYLANE_JOBS_HEARTBEAT" in result.stderr
