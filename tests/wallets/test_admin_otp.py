"""Two factors for the admin: with PAYLANE_ADMIN_OTP a staff member needs a password and a TOTP code."""

from __future__ import annotations

import base64
import logging
import re
from urllib.parse import parse_qs, urlsplit

import pytest
from django.core.management import call_command
from django.test import Client
from django_otp.oath import totp
from django_otp.plugins.otp_totp.models import TOTPDevice

from tests.conftest import PASSWORD
from wallets.accounts.admin_otp import admin_otp_device_add
from wallets.management.commands.admin_otp_add import Command as AdminOtpAdd
from wallets.models import AdminSignIn, User

Reason = AdminSignIn.Reason


@pytest.fixture
def otp_on(settings) -> None:  # type: ignore[no-untyped-def]
    settings.PAYLANE_ADMIN_OTP = True


@pytest.fixture
def staff(db: None) -> User:
    return User.objects.create_user("Ops", password=PASSWORD, is_staff=True, is_superuser=True)


@pytest.fixture
def device(staff: User) -> TOTPDevice:
    return admin_otp_device_add(username="ops")


def code_of(device: TOTPDevice) -> str:
    """The code an authenticator app shows now, from the device's key."""
    device.refresh_from_db()
    return f"{totp(device.bin_key, device.step, device.t0, device.digits, device.drift):06d}"


def wrong_code(device: TOTPDevice) -> str:
    return f"{(int(code_of(device)) + 1) % 1_000_000:06d}"


def sign_in(client: Client, *, username: str = "ops", password: str = PASSWORD, code: str | None = None) -> int:
    data = {"username": username, "password": password, "next": "/admin/"}
    if code is not None:
        data["otp_token"] = code
    return client.post("/admin/login/", data).status_code


def reaches_admin(client: Client) -> bool:
    return client.get("/admin/").status_code == 200


# --- With the setting on -------------------------------------------------------------------------


def test_with_otp_on_a_staff_member_without_a_code_cannot_reach_the_admin(otp_on: None, device: TOTPDevice) -> None:
    client = Client()
    assert sign_in(client) == 200  # the form again, asking for the code
    assert not reaches_admin(client)
    assert "_auth_user_id" not in client.session
    # A session signed in with the password alone (the home page, or force_login) is not enough either.
    client.force_login(device.user)
    response = client.get("/admin/")
    assert response.status_code == 302 and response.url.startswith("/admin/login/")
    assert client.get("/admin/ledger/transaction/").status_code == 302


def test_with_a_valid_totp_code_a_staff_member_reaches_the_admin(otp_on: None, device: TOTPDevice) -> None:
    client = Client()
    assert sign_in(client, code=code_of(device)) == 302
    assert reaches_admin(client)
    assert client.get("/admin/ledger/transaction/").status_code == 200
    record = AdminSignIn.objects.get()
    assert (record.succeeded, record.reason, record.otp_verified, record.user) == (True, "", True, device.user)


def test_a_wrong_code_is_refused_and_recorded(otp_on: None, device: TOTPDevice) -> None:
    client = Client()
    response = client.post("/admin/login/", {"username": "ops", "password": PASSWORD, "otp_token": wrong_code(device)})
    assert response.status_code == 200
    assert "That one-time code is not valid" in response.content.decode()
    assert PASSWORD not in response.content.decode()  # django-otp would re-render the password; we do not
    assert not reaches_admin(client)
    record = AdminSignIn.objects.get()
    assert (record.succeeded, record.reason, record.user, record.client_ip) == (
        False,
        Reason.OTP_INVALID,
        device.user,
        "127.0.0.1",
    )


def test_a_code_already_used_cannot_sign_in_again(otp_on: None, device: TOTPDevice) -> None:
    code = code_of(device)
    assert sign_in(Client(), code=code) == 302
    replay = Client()
    assert sign_in(replay, code=code) == 200
    assert not reaches_admin(replay)
    assert AdminSignIn.objects.order_by("id").last().reason == Reason.OTP_INVALID  # type: ignore[union-attr]


def test_right_after_a_wrong_code_even_the_right_one_is_held_back(
    otp_on: None,
    device: TOTPDevice,
    settings,  # type: ignore[no-untyped-def]
) -> None:
    # django-otp's throttle: after a failure the device refuses every code for a while, doubling with
    # each failure (OTP_TOTP_THROTTLE_FACTOR seconds, 1 by default; a minute here, so a slow machine
    # cannot outwait it between two requests).
    settings.OTP_TOTP_THROTTLE_FACTOR = 60
    client = Client()
    assert sign_in(client, code=wrong_code(device)) == 200
    assert sign_in(client, code=code_of(device)) == 200
    assert not reaches_admin(client)


def test_staff_without_a_device_are_told_so_and_the_refusal_is_recorded(otp_on: None, staff: User) -> None:
    client = Client()
    response = client.post("/admin/login/", {"username": "ops", "password": PASSWORD, "otp_token": "123456"})
    assert "admin_otp_add" in response.content.decode()
    assert not reaches_admin(client)
    assert AdminSignIn.objects.get().reason == Reason.OTP_NO_DEVICE


def test_a_user_with_two_devices_chooses_one_and_signs_in_with_its_code(otp_on: None, device: TOTPDevice) -> None:
    spare = TOTPDevice.objects.create(user=device.user, name="spare", confirmed=True)
    client = Client()
    first = client.post("/admin/login/", {"username": "ops", "password": PASSWORD, "otp_token": code_of(spare)})
    assert first.status_code == 200
    assert f'value="{spare.persistent_id}"' in first.content.decode()  # the choice is offered
    assert AdminSignIn.objects.get().reason == Reason.OTP_MISSING  # no code was checked yet
    chosen = {"username": "ops", "password": PASSWORD, "otp_device": spare.persistent_id, "otp_token": code_of(spare)}
    assert client.post("/admin/login/", chosen).status_code == 302
    assert reaches_admin(client)


def test_the_sign_in_page_asks_for_the_code_only_when_the_setting_is_on(settings, device: TOTPDevice) -> None:  # type: ignore[no-untyped-def]
    settings.PAYLANE_ADMIN_OTP = True
    assert 'name="otp_token"' in Client().get("/admin/login/").content.decode()
    settings.PAYLANE_ADMIN_OTP = False
    assert 'name="otp_token"' not in Client().get("/admin/login/").content.decode()


# --- django-axes keeps locking the admin's sign-in out ------------------------------------------


@pytest.mark.parametrize("wrong", ["password", "code"])
def test_five_wrong_passwords_or_codes_lock_the_admin_sign_in_out(
    otp_on: None,
    device: TOTPDevice,
    settings,
    wrong: str,  # type: ignore[no-untyped-def]
) -> None:
    settings.OTP_TOTP_THROTTLE_FACTOR = 0  # django-otp's own throttle off: this is about django-axes
    client = Client()
    for _ in range(5):
        if wrong == "password":
            sign_in(client, password="wrong", code=code_of(device))
        else:
            sign_in(client, code=wrong_code(device))
    response = client.post("/admin/login/", {"username": "ops", "password": PASSWORD, "otp_token": code_of(device)})
    assert response.status_code == 429
    assert "Too many failed sign-in attempts" in response.content.decode()
    assert not reaches_admin(client)
    reasons = list(AdminSignIn.objects.order_by("id").values_list("reason", flat=True))
    first = Reason.BAD_PASSWORD if wrong == "password" else Reason.OTP_INVALID
    assert reasons == [first] * 5 + [Reason.LOCKED_OUT]


# --- With the setting off -----------------------------------------------------------------------


def test_with_otp_off_the_admin_asks_for_the_password_only_and_records_the_sign_in(staff: User) -> None:
    client = Client()
    assert sign_in(client) == 302
    assert reaches_admin(client)
    record = AdminSignIn.objects.get()
    assert (record.succeeded, record.otp_verified, record.user) == (True, False, staff)


def test_with_otp_off_a_force_login_reaches_the_admin_as_before(admin_client: Client) -> None:
    assert reaches_admin(admin_client)


# --- manage.py admin_otp_add --------------------------------------------------------------------


def run_command(*argv: str, capsys: pytest.CaptureFixture[str]) -> tuple[int, str, str]:
    """The command as ``manage.py`` runs it: exit status, standard output, standard error."""
    try:
        AdminOtpAdd().run_from_argv(["manage.py", "admin_otp_add", *argv])
        status = 0
    except SystemExit as exit_:
        status = int(exit_.code or 0)
    out, err = capsys.readouterr()
    return status, out, err


# run_from_argv closes the database connections when it ends, as manage.py does: outside a test transaction.
@pytest.mark.django_db(transaction=True)
def test_admin_otp_add_prints_a_uri_whose_codes_sign_in(
    otp_on: None, staff: User, capsys: pytest.CaptureFixture[str], caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level(logging.DEBUG):
        status, out, _ = run_command("OPS", capsys=capsys)
    assert status == 0
    uri = out.strip()
    assert uri.startswith("otpauth://totp/Paylane%3AOps?")
    query = parse_qs(urlsplit(uri).query)
    assert (query["issuer"], query["digits"], query["period"]) == (["Paylane"], ["6"], ["30"])
    assert query["secret"][0] not in caplog.text  # printed for the operator, never logged
    key = base64.b32decode(query["secret"][0])
    device = TOTPDevice.objects.get(user=staff)
    assert device.confirmed and device.bin_key == key
    client = Client()
    assert sign_in(client, code=f"{totp(key):06d}") == 302
    assert reaches_admin(client)


@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize("who", ["nobody", "alice"])
def test_admin_otp_add_refuses_an_unknown_or_non_staff_user_with_a_non_zero_exit(
    alice: User, who: str, capsys: pytest.CaptureFixture[str]
) -> None:
    status, out, err = run_command(who, capsys=capsys)
    assert status != 0
    assert out == ""
    assert ("No user is named" if who == "nobody" else "is not active staff") in err
    assert not TOTPDevice.objects.exists()


@pytest.mark.django_db(transaction=True)
def test_admin_otp_add_replaces_a_device_only_when_asked(
    device: TOTPDevice, capsys: pytest.CaptureFixture[str]
) -> None:
    status, _, err = run_command("ops", capsys=capsys)
    assert status != 0 and "--replace" in err
    assert list(TOTPDevice.objects.all()) == [device]
    call_command("admin_otp_add", "ops", "--replace")
    assert not TOTPDevice.objects.filter(pk=device.pk).exists()  # the lost phone's codes stop working
    assert TOTPDevice.objects.filter(user=device.user).count() == 1


def test_the_device_admin_never_shows_a_key(otp_on: None, device: TOTPDevice) -> None:
    client = Client()
    assert sign_in(client, code=code_of(device)) == 302
    page = client.get(f"/admin/otp_totp/totpdevice/{device.pk}/change/")
    assert page.status_code == 200
    assert device.key not in page.content.decode()
    assert not re.search(r"otpauth://|qrcode", page.content.decode())
    assert client.get("/admin/otp_totp/totpdevice/add/").status_code == 403
