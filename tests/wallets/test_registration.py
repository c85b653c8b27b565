from __future__ import annotations

from collections.abc import Callable

import pytest

from tests.conftest import PASSWORD
from wallets.accounts import registration
from wallets.errors import InvalidMobile, MobileTaken, UsernameTaken, ValidationFailed
from wallets.models import Profile, User, Wallet


def test_registration_creates_user_profile_and_an_empty_wallet(db: None) -> None:
    user = registration.user_register(username="asha", password=PASSWORD, mobile_number="98765 43210")

    assert user.check_password(PASSWORD)
    assert user.profile.mobile_number == "+919876543210"
    assert user.wallet.balance == 0
    assert str(user.wallet.balance) == "0.00"
    assert user.wallet.version == 0


def test_mobile_numbers_are_normalised_to_e164_with_the_default_region(db: None, settings) -> None:
    settings.PAYLANE_PHONE_REGION = "GB"
    user = registration.user_register(username="gus", password=PASSWORD, mobile_number="07400 123456")
    assert user.profile.mobile_number == "+447400123456"


@pytest.mark.parametrize("mobile", ["(+91) 98765-43210", "+91.98765.43210", "0091 98765 43210", " 98765/43210 "])
def test_common_spellings_of_a_number_are_read(db: None, mobile: str) -> None:
    user = registration.user_register(username="hana", password=PASSWORD, mobile_number=mobile)
    assert user.profile.mobile_number == "+919876543210"


def test_username_is_unique_regardless_of_case(register: Callable[..., User]) -> None:
    register("Alice")
    with pytest.raises(UsernameTaken):
        register("aLICE")
    assert User.objects.count() == 1


def test_a_mobile_number_belongs_to_one_account_in_any_spelling(register: Callable[..., User]) -> None:
    register("alice", mobile="+91 98765 43210")
    with pytest.raises(MobileTaken):
        register("bob", mobile="098765-43210")
    assert not User.objects.filter(username="bob").exists()


@pytest.mark.parametrize(
    "mobile",
    [
        "",
        "12",
        "not a number",
        "+91 12345",
        "9" * 40,
        "0" * 31,
        "9876543210abc",
        "tel:+919876543210",
        "+91 98765 43210 ext 5",
        "98765\xa043210",
    ],
)
def test_invalid_mobile_numbers_are_refused(db: None, mobile: str) -> None:
    with pytest.raises(InvalidMobile):
        registration.user_register(username="carol", password=PASSWORD, mobile_number=mobile)
    assert not User.objects.exists()


@pytest.mark.parametrize("password", ["short", "12345678901", "password123", "carol-carol"])
def test_django_password_validators_apply(db: None, password: str) -> None:
    with pytest.raises(ValidationFailed) as refused:
        registration.user_register(username="carol-carol", password=password, mobile_number="+919876543210")
    assert refused.value.field == "password"
    assert not User.objects.exists()


@pytest.mark.parametrize("username", ["", "   ", "has space", "x" * 151, "semi;colon"])
def test_bad_usernames_are_refused(db: None, username: str) -> None:
    with pytest.raises(ValidationFailed) as refused:
        registration.user_register(username=username, password=PASSWORD, mobile_number="+919876543210")
    assert refused.value.field == "username"


@pytest.mark.django_db(transaction=True)
def test_registration_is_all_or_nothing(monkeypatch: pytest.MonkeyPatch) -> None:
    def wallet_fails(**kwargs: object) -> None:
        raise RuntimeError("disk full")

    monkeypatch.setattr(Wallet.objects, "create", wallet_fails)
    with pytest.raises(RuntimeError):
        registration.user_register(username="dora", password=PASSWORD, mobile_number="+919876543210")
    assert not User.objects.exists()
    assert not Profile.objects.exists()
