"""The record of admin sign-ins: every attempt, why it failed, never a secret; append-only like the ledger."""

from __future__ import annotations

import io
import logging
from collections.abc import Iterator
from pathlib import Path

import pytest
from django.contrib.admin.sites import site
from django.core.management import CommandError, call_command
from django.db import DatabaseError, IntegrityError, connection, transaction
from django.test import Client
from django.urls import reverse
from django_otp.oath import totp

from ledger import triggers
from ledger.models import AppendOnlyError
from ledger.reconcile import Finding, ledger_reconcile
from tests.conftest import PASSWORD
from tests.ledger.test_migrations import live_sql_marked, migrate_from_zero
from tests.support.logs import mentions
from wallets.accounts import signins
from wallets.accounts.admin_otp import admin_otp_device_add
from wallets.models import AdminSignIn, User

TABLE = "wallets_adminsignin"
Reason = AdminSignIn.Reason


@pytest.fixture
def staff(db: None) -> User:
    return User.objects.create_user("Ops", password=PASSWORD, is_staff=True, is_superuser=True)


def post(client: Client, **data: str) -> int:
    return client.post("/admin/login/", data).status_code


# --- What is recorded ---------------------------------------------------------------------------


def test_every_refusal_is_recorded_with_its_reason_and_the_user_when_one_matched(
    staff: User,
    alice: User,
    settings,  # type: ignore[no-untyped-def]
) -> None:
    settings.PAYLANE_ADMIN_OTP = True
    device = admin_otp_device_add(username="ops")
    client = Client(REMOTE_ADDR="203.0.113.7")
    post(client, username="nobody", password=PASSWORD)
    post(client, username="OPS", password="wrong", otp_token="123456")
    post(client, username="alice", password=PASSWORD)
    post(client, username="ops", password=PASSWORD)
    post(client, username="ops", password=PASSWORD, otp_token=f"{totp(device.bin_key):06d}")
    rows = list(AdminSignIn.objects.order_by("id").values_list("username", "user", "succeeded", "reason", "client_ip"))
    assert rows == [
        ("nobody", None, False, Reason.BAD_PASSWORD, "203.0.113.7"),
        ("OPS", staff.pk, False, Reason.BAD_PASSWORD, "203.0.113.7"),  # as typed; the account it names
        ("alice", alice.pk, False, Reason.NOT_STAFF, "203.0.113.7"),
        ("ops", staff.pk, False, Reason.OTP_MISSING, "203.0.113.7"),
        ("ops", staff.pk, True, "", "203.0.113.7"),
    ]


def test_a_non_staff_refusal_reads_like_a_wrong_password_to_the_person_typing(alice: User) -> None:
    not_staff = Client().post("/admin/login/", {"username": "alice", "password": PASSWORD})
    wrong = Client().post("/admin/login/", {"username": "alice", "password": "wrong"})
    assert not_staff.context["form"].errors == wrong.context["form"].errors
    assert [r.reason for r in AdminSignIn.objects.order_by("id")] == [Reason.NOT_STAFF, Reason.BAD_PASSWORD]


def test_neither_the_password_nor_the_code_is_kept_or_logged(
    staff: User,
    settings,
    caplog: pytest.LogCaptureFixture,  # type: ignore[no-untyped-def]
) -> None:
    settings.PAYLANE_ADMIN_OTP = True
    device = admin_otp_device_add(username="ops")
    code = f"{totp(device.bin_key):06d}"
    wrong_password = "hunter2-is-not-it"
    with caplog.at_level(logging.DEBUG):
        post(Client(), username="ops", password=wrong_password, otp_token=code)
        post(Client(), username="ops", password=PASSWORD, otp_token=f"{(int(code) + 1) % 1_000_000:06d}")
        post(Client(), username="ops", password=PASSWORD, otp_token=code)
    assert AdminSignIn.objects.count() == 3
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT * FROM {TABLE}")
        stored = " ".join(str(value) for row in cursor.fetchall() for value in row)
    for secret in (PASSWORD, wrong_password, code):
        assert secret not in stored
        assert not mentions(caplog.text, secret)


def test_a_csrf_refusal_is_no_sign_in_and_records_nothing(staff: User) -> None:
    client = Client(enforce_csrf_checks=True)
    assert post(client, username="ops", password=PASSWORD) == 403
    assert not AdminSignIn.objects.exists()


def test_a_name_with_a_nul_or_past_the_longest_username_is_recorded_not_a_500(db: None) -> None:
    # PostgreSQL's text refuses NUL; the form refuses the field, and the record keeps a readable stand-in.
    assert post(Client(), username="ev\x00il", password="x") == 200
    assert post(Client(), username="x" * 500, password="x") == 200
    names = list(AdminSignIn.objects.order_by("id").values_list("username", flat=True))
    assert names == ["ev\ufffdil", "x" * 150]


def test_the_database_refuses_a_record_whose_reason_does_not_match_its_outcome(db: None) -> None:
    for fields in (
        {"succeeded": True, "reason": Reason.BAD_PASSWORD},
        {"succeeded": False, "reason": ""},
        {"succeeded": False, "reason": "made_up"},
        {"succeeded": False, "reason": Reason.OTP_INVALID, "otp_verified": True},
    ):
        with pytest.raises(IntegrityError), transaction.atomic():
            AdminSignIn.objects.create(username="x", **fields)


# --- Read-only in the admin ---------------------------------------------------------------------


def test_the_record_is_listed_read_only_in_the_admin_even_for_a_superuser(admin_client: Client, staff: User) -> None:
    post(Client(), username="ops", password="wrong")
    record = AdminSignIn.objects.get()
    listed = admin_client.get(reverse("admin:wallets_adminsignin_changelist"), {"q": "OPS"})
    assert listed.status_code == 200
    assert list(listed.context["cl"].result_list) == [record]
    assert admin_client.get(reverse("admin:wallets_adminsignin_change", args=[record.pk])).status_code == 200
    assert admin_client.post(reverse("admin:wallets_adminsignin_change", args=[record.pk]), {}).status_code == 403
    assert admin_client.get(reverse("admin:wallets_adminsignin_add")).status_code == 403
    assert admin_client.post(reverse("admin:wallets_adminsignin_delete", args=[record.pk])).status_code == 403
    request = listed.wsgi_request
    model_admin = site._registry[AdminSignIn]
    assert not model_admin.has_add_permission(request)
    assert not model_admin.has_change_permission(request, record)
    assert not model_admin.has_delete_permission(request, record)
    assert model_admin.get_actions(request) == {}
    assert list(AdminSignIn.objects.values_list("reason", flat=True)) == [Reason.BAD_PASSWORD]


# --- Append-only, as the ledger -------------------------------------------------------------------


def raw(sql: str) -> None:
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute(sql)


def table_rows() -> list[tuple[object, ...]]:
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT * FROM {TABLE} ORDER BY id")
        return list(cursor.fetchall())


@pytest.fixture
def recorded(transactional_db: None) -> Iterator[AdminSignIn]:
    # transaction=True on purpose: the flush after the test must get past this table's triggers too.
    yield signins.admin_signin_record(username="ops", user=None, reason=Reason.BAD_PASSWORD, client_ip="127.0.0.1")


def test_the_record_refuses_orm_update_and_delete(recorded: AdminSignIn) -> None:
    before = table_rows()
    recorded.reason = Reason.NOT_STAFF
    with pytest.raises(AppendOnlyError):
        recorded.save()
    with pytest.raises(AppendOnlyError):
        recorded.delete()
    with pytest.raises(AppendOnlyError):
        AdminSignIn.objects.filter(pk=recorded.pk).update(succeeded=True, reason="")
    with pytest.raises(AppendOnlyError):
        AdminSignIn.objects.all().delete()
    assert table_rows() == before


def test_the_record_refuses_raw_sql_update_delete_and_a_replace(recorded: AdminSignIn) -> None:
    before = table_rows()
    with pytest.raises(DatabaseError, match="append-only"):
        raw(f"UPDATE {TABLE} SET username = 'someone else'")
    with pytest.raises(DatabaseError, match="append-only"):
        raw(f"DELETE FROM {TABLE}")
    with pytest.raises(DatabaseError):  # SQLite: the no-replace trigger; PostgreSQL: the primary key
        raw(
            ("INSERT OR REPLACE INTO" if connection.vendor == "sqlite" else "INSERT INTO")
            + f" {TABLE} SELECT * FROM {TABLE} WHERE id = {recorded.pk}"
        )
    with pytest.raises(DatabaseError, match="append-only"):  # an UPSERT: both backends
        raw(
            f"INSERT INTO {TABLE} SELECT * FROM {TABLE} WHERE id = {recorded.pk} "
            "ON CONFLICT (id) DO UPDATE SET username = 'someone else'"
        )
    assert table_rows() == before


@pytest.mark.postgres
def test_the_record_refuses_truncate_on_postgresql(recorded: AdminSignIn) -> None:
    with pytest.raises(DatabaseError, match="append-only"):
        raw(f"TRUNCATE {TABLE}")
    assert len(table_rows()) == 1


def test_the_no_replace_trigger_covers_every_unique_key_of_the_table(recorded: AdminSignIn) -> None:
    with connection.cursor() as cursor:
        constraints = connection.introspection.get_constraints(cursor, TABLE)
    unique = {tuple(c["columns"]) for c in constraints.values() if c["unique"] or c["primary_key"]}
    assert unique == {(column,) for column in signins.APPEND_ONLY_TABLES[TABLE]}


def test_the_triggers_come_back_after_migrate_and_verify_ledger_reports_them_missing(recorded: AdminSignIn) -> None:
    expected = triggers.expected(connection.vendor, TABLE)
    assert triggers.installed(connection, TABLE) >= expected
    triggers.uninstall(connection, TABLE)
    findings = [f for f in ledger_reconcile() if f.check == "triggers"]
    names = ", ".join(sorted(expected))
    assert findings == [Finding("triggers", TABLE, f"missing or disabled append-only trigger(s): {names}")]
    out = io.StringIO()
    with pytest.raises(CommandError):
        call_command("verify_ledger", stdout=out)
    assert TABLE in out.getvalue()
    call_command("migrate", verbosity=0)  # post_migrate puts them back, as for the ledger's tables
    assert triggers.installed(connection, TABLE) >= expected
    assert [f for f in ledger_reconcile() if f.check == "triggers"] == []


def test_the_migration_installs_its_own_frozen_sql_whatever_the_live_files_say(
    transactional_db: None, tmp_path: Path
) -> None:
    installed = migrate_from_zero(tmp_path, live_sql_marked(tmp_path))
    ours = {name: sql for name, sql in installed.items() if name.startswith(TABLE)}
    assert set(ours) == triggers.expected(connection.vendor, TABLE)
    assert [name for name, sql in ours.items() if "(live)" in sql] == []
