"""UPU S10 parcel ids: the mod-11 check digit, its two special cases, and what is not S10."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from gateway.domain.s10 import looks_like_s10, s10_check_digit, s10_problem

# Worked by hand with the weights 8 6 4 2 3 5 9 7 and check = 11 - (sum mod 11):
SERIALS = [
    # 1*8 + 2*6 + 3*4 + 4*2 + 5*3 + 6*5 + 7*9 + 8*7 = 204; 204 mod 11 = 6; 11 - 6 = 5
    ("12345678", 5),
    # 4*8 + 7*6 + 3*4 + 2*2 + 6*3 + 2*5 + 1*9 + 3*7 = 148; 148 mod 11 = 5; 11 - 5 = 6
    ("47326213", 6),
    # 6*2 = 12; 12 mod 11 = 1; 11 - 1 = 10, which is written 0
    ("00060000", 0),
    # 1*8 + 1*3 = 11; 11 mod 11 = 0; 11 - 0 = 11, which is written 5
    ("10001000", 5),
    # 0; 0 mod 11 = 0; 11 -> 5
    ("00000000", 5),
    # 9*(8+6+4+2+3+5+9+7) = 9*44 = 396 = 36*11; remainder 0 -> 5
    ("99999999", 5),
    # 1*7 = 7; 11 - 7 = 4
    ("00000001", 4),
]


@pytest.mark.parametrize(("serial", "check"), SERIALS)
def test_check_digits_worked_by_hand(serial: str, check: int) -> None:
    assert s10_check_digit(serial) == check


@pytest.mark.parametrize(
    "parcel_id",
    ["RA123456785GB", "RR473262136GB", "EE000600000US", "CP100010005DE", "LX000000014PL"],
)
def test_valid_ids(parcel_id: str) -> None:
    assert looks_like_s10(parcel_id)
    assert s10_problem(parcel_id) is None


@pytest.mark.parametrize(
    ("parcel_id", "expected"),
    [("RA123456784GB", 5), ("RA123456780GB", 5), ("EE000600005US", 0), ("CP100010000DE", 5)],
)
def test_a_wrong_check_digit_names_the_expected_one(parcel_id: str, expected: int) -> None:
    assert looks_like_s10(parcel_id)
    problem = s10_problem(parcel_id)
    assert problem == f"S10 check digit is {parcel_id[10]}, expected {expected}"


@pytest.mark.parametrize(
    "parcel_id",
    [
        "",
        "RA12345678GB",  # one digit short
        "RA1234567855GB",  # one digit long
        "ra123456785gb",  # S10 letters are capitals
        "RA 123 456 785 GB",  # printed grouping, not the id
        "R1123456785GB",
        "RA123456785G",
        "RA123456785GB1",
        "1Z999AA10123456784",  # a UPS tracking number
        "RA123456785GB\n",
        "\nRA123456785GB",
        "RA123456785GB ",
        "RA\uff11\uff12\uff13\uff14\uff15\uff16\uff17\uff185GB",  # full-width digits
        "\u0158A123456785GB",  # a Czech capital R with caron
    ],
)
def test_other_shapes_are_not_claimed_as_s10(parcel_id: str) -> None:
    assert not looks_like_s10(parcel_id)
    assert s10_problem(parcel_id) == "not in the S10 format AA999999999AA"


# Unicode digits other than 0-9: str.isdigit() says yes, an S10 serial says no.
ARABIC_INDIC_DIGITS = "\u0661\u0662\u0663\u0664\u0665\u0666\u0667\u0668"


@pytest.mark.parametrize(
    "serial",
    [
        "",
        "1234567",
        "123456789",
        "1234567a",
        " 1234567",
        "-1234567",
        "+1234567",
        ARABIC_INDIC_DIGITS,
    ],
)
def test_check_digit_refuses_what_is_not_an_8_digit_serial(serial: str) -> None:
    with pytest.raises(ValueError, match="exactly 8 digits"):
        s10_check_digit(serial)


@given(st.text(alphabet="0123456789", min_size=8, max_size=8))
def test_exactly_one_check_digit_makes_an_id_valid(serial: str) -> None:
    check = s10_check_digit(serial)
    assert 0 <= check <= 9
    valid = [d for d in "0123456789" if s10_problem(f"AB{serial}{d}FR") is None]
    assert valid == [str(check)]


@given(st.text(alphabet="0123456789", min_size=8, max_size=8))
def test_check_digit_matches_the_definition(serial: str) -> None:
    total = sum(int(d) * w for d, w in zip(serial, (8, 6, 4, 2, 3, 5, 9, 7), strict=True))
    assert s10_check_digit(serial) == {10: 0, 11: 5}.get(11 - total % 11, 11 - total % 11)
