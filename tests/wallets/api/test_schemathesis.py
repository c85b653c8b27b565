"""The OpenAPI schema against the live server: schemathesis 4.32, every check, all four phases.

daphne serves the test database with a private redis-server; schemathesis
(``schemathesis.toml`` beside this file, a fixed seed, bounded examples) signs in
as a topped-up user and finds no failure: every schema-valid request is accepted
or meets a refusal no schema can state, every schema-invalid one is refused,
every answer is documented and matches its schema.
"""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from django.conf import global_settings

from tests.conftest import PASSWORD
from tests.support.live import BASE_DIR, RedisServer, daphne
from wallets import services
from wallets.models import User

pytestmark = [pytest.mark.postgres, pytest.mark.django_db(transaction=True)]

CONFIG = Path(__file__).with_name("schemathesis.toml")
SCHEMATHESIS = str(Path(sys.executable).with_name("schemathesis"))
# The run checks the schema, not the limits: a call refused with 429 tells it nothing about the
# rest of the answers, and a sign-in lockout (5 wrong passwords for the user it signs in as,
# which the fuzzer sends) would leave it without a token. 429 stays documented and allowed.
# Every limit the API has or is getting (sign-in per address, pay-by-mobile lookups, password resets)
# is raised, and the lockout: wrong current passwords count as failed sign-ins.
SERVER_ENV = {
    "PAYLANE_TRANSFER_RATE": "1000000/s",
    "PAYLANE_REGISTER_RATE": "1000000/s",
    "PAYLANE_SIGNIN_RATE": "1000000/s",
    "PAYLANE_RECIPIENT_LOOKUP_RATE": "1000000/s",
    "PAYLANE_PASSWORD_RESET_RATE": "1000000/s",
    "PAYLANE_PASSWORD_RESET_NUMBER_RATE": "1000000/s",
    "PAYLANE_LOGIN_FAILURE_LIMIT": "1000000",
    # The fuzzer's wrong PINs (payments, PIN changes) would lock alice's payments for 15 minutes.
    "PAYLANE_PIN_FAILURE_LIMIT": "1000000",
    # Codes by SMS (number verification, PIN changes): the run asks for many.
    "PAYLANE_CODE_RATE": "1000000/s",
    "PAYLANE_STATEMENT_RATE": "1000000/s",
    "SECURE_SSL_REDIRECT": "0",
    # Money requests per requester a day.
    "PAYLANE_REQUEST_RATE": "1000000",
}


# A guard against a hang, not a speed goal: the run grows with every operation and slows on a busy machine.
@pytest.mark.timeout(720)
def test_the_live_server_answers_every_request_as_its_openapi_schema_says(
    tmp_path: Path, register: Callable[..., User], settings: Any
) -> None:
    # daphne checks passwords with the real hashers, not the suite's fast one.
    settings.PASSWORD_HASHERS = global_settings.PASSWORD_HASHERS
    # The schema's examples: the token example signs in as alice, the transfer example pays bob with
    # alice's PIN (the `register` fixture's), the recipient example looks bob up.
    alice = register("alice", mobile="+91 98123 45678", balance="100000.00")
    bob = register("bob", mobile="+91 98765 43210", balance="100.00")
    # A payment alice received: the one entry she may refund (the config points the refund at it).
    received = services.transfer_create(sender=bob, to_user_id=alice.pk, amount="50.00")
    redis = RedisServer(tmp_path)
    redis.start()
    try:
        with daphne(redis_url=redis.url, log_dir=tmp_path, extra_env=SERVER_ENV) as server:
            # PAYLANE_SCHEMATHESIS_SEED explores beyond the config's fixed seed.
            seed = os.environ.get("PAYLANE_SCHEMATHESIS_SEED")
            run = subprocess.run(
                [
                    SCHEMATHESIS,
                    "--config-file",
                    str(CONFIG),
                    "run",
                    f"{server.http}/api/v1/schema/",
                    *(["--seed", seed] if seed else []),
                ],
                cwd=BASE_DIR,
                env={
                    **os.environ,
                    "PAYLANE_SCHEMATHESIS_USERNAME": alice.username,
                    "PAYLANE_SCHEMATHESIS_PASSWORD": PASSWORD,
                    "PAYLANE_SCHEMATHESIS_REFUND_ID": str(received.pk),
                    "NO_COLOR": "1",
                },
                capture_output=True,
                text=True,
                timeout=700,
            )
    finally:
        redis.stop()
    report = f"{run.stdout[-30000:]}\n{run.stderr[-5000:]}"
    assert run.returncode == 0, report
    # Not a vacuous pass: the schema loaded and every operation and phase ran.
    assert "Selected: 28/28" in run.stdout and "Tested: 28" in run.stdout, report
    for phase in ("Examples", "Coverage", "Fuzzing", "Stateful"):
        assert f"✅ {phase}" in run.stdout, report
