"""AML: the strict parser (with hypothesis fuzzing): pure logic, no server."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from app.telephony.aml import AmlError, AmlMessage, format_message, parse

SAMPLE = (
    'A"ML=1;lt=+48.902963;lg=+2.516582;rd=1964;top=20220210134654;lc=95;pm=G;'
    "si=234302543446355;ei=357365093474415;mcc=208;mnc=01;ml=131"
)


def _solok(**over) -> AmlMessage:
    values = dict(
        lat=-0.7893,
        lon=100.6543,
        radius_m=15.0,
        positioned_at=datetime.now(UTC).replace(microsecond=0),
        confidence=68,
        method="G",
        imsi="510101234567890",
        imei="123456789012345",
        mcc="510",
        mnc="10",
    )
    values.update(over)
    return AmlMessage(**values)


def test_parses_the_published_example():
    msg = parse(SAMPLE)
    assert (msg.lat, msg.lon, msg.radius_m, msg.confidence, msg.method) == (
        48.902963,
        2.516582,
        1964.0,
        95,
        "G",
    )
    assert msg.positioned_at == datetime(2022, 2, 10, 13, 46, 54, tzinfo=UTC)
    assert (msg.imsi, msg.imei, msg.mcc, msg.mnc) == ("234302543446355", "357365093474415", "208", "01")


def test_no_location_method_allows_empty_position():
    msg = parse(format_message(_solok(lat=None, lon=None, radius_m=None, method="N")))
    assert msg.has_position is False and msg.method == "N"


def _with_ml(text: str) -> str:
    """Recompute ml after a mutation, so each case fails on the field it targets."""
    body = text.rsplit(";ml=", 1)[0] + ";ml="
    n = len(body) + 3
    while len(body) + len(str(n)) != n:
        n = len(body) + len(str(n))
    return body + str(n)


@pytest.mark.parametrize(
    "old, new, field",
    [
        ("lt=+48.902963", "lt=+98.90296", "lt"),
        ("lt=+48.902963", "lt=4e1", "lt"),
        ("lt=+48.902963", "lt=", "lt"),
        ("lg=+2.516582", "lg=-182.51658", "lg"),
        ("rd=1964", "rd=-196", "rd"),
        ("rd=1964", "rd=abc", "rd"),
        ("top=20220210134654", "top=20221310134654", "top"),
        ("top=20220210134654", "top=2022021013465", "top"),
        ("lc=95", "lc=951", "lc"),
        ("pm=G", "pm=X", "pm"),
        ("mcc=208", "mcc=20B", "mcc"),
        ("mnc=01", "mnc=1", "mnc"),
        ("si=234302543446355", "si=23430254344635X", "si"),
        (";lc=95", ";lc=95;lc=95", "lc"),
        (";lc=95", ";zz=95", "zz"),
        (";lc=95", "", "lc"),
        (";lc=95", ";lc95", "message"),
        ('A"ML=1', 'A"ML=2', "header"),
    ],
)
def test_rejects_malformed_fields_with_the_field_named(old, new, field):
    text = _with_ml(SAMPLE.replace(old, new))
    with pytest.raises(AmlError) as info:
        parse(text)
    assert info.value.field == field, info.value


@pytest.mark.parametrize(
    "text, field",
    [
        (SAMPLE.replace("ml=131", "ml=130"), "ml"),
        (SAMPLE.replace("ml=131", "ml=x"), "ml"),
        (SAMPLE + "\n", "message"),
        (SAMPLE + ";" + "x" * 600, "message"),
        ("", "header"),
        (SAMPLE.replace("lt=+48", "lt=+４8"), "message"),
    ],
)
def test_rejects_broken_framing(text, field):
    with pytest.raises(AmlError) as info:
        parse(text)
    assert info.value.field == field, info.value


_coord_lat = st.integers(-90_000_000, 90_000_000).map(lambda v: v / 1_000_000)
_coord_lon = st.integers(-180_000_000, 180_000_000).map(lambda v: v / 1_000_000)
_times = st.datetimes(min_value=datetime(2000, 1, 1), max_value=datetime(2099, 12, 31)).map(
    lambda d: d.replace(microsecond=0, tzinfo=UTC)
)
_valid = st.builds(
    AmlMessage,
    lat=_coord_lat,
    lon=_coord_lon,
    radius_m=st.integers(0, 999_999).map(float),
    positioned_at=_times,
    confidence=st.integers(0, 100),
    method=st.sampled_from("GWC"),
    imsi=st.none() | st.from_regex(r"\A[0-9]{15}\Z"),
    imei=st.none() | st.from_regex(r"\A[0-9]{14,16}\Z"),
    mcc=st.from_regex(r"\A[0-9]{3}\Z"),
    mnc=st.from_regex(r"\A[0-9]{2,3}\Z"),
)


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(_valid)
def test_valid_messages_round_trip(msg):
    text = format_message(msg)
    assert len(text) == int(text.rsplit("ml=", 1)[1])
    assert parse(text) == msg


@settings(max_examples=600, deadline=None)
@given(st.text(max_size=300) | st.text(alphabet='A"ML=1;ltgrdopcsimn+-.0123456789GWCN', max_size=200))
def test_arbitrary_text_only_ever_raises_amlerror(text):
    try:
        parse(text)
    except AmlError:
        pass


@settings(max_examples=400, deadline=None)
@given(_valid, st.data())
def test_mutated_valid_messages_only_ever_raise_amlerror(msg, data):
    text = format_message(msg)
    pos = data.draw(st.integers(0, len(text)))
    cut = data.draw(st.integers(0, 5))
    insert = data.draw(st.text(max_size=6))
    mutated = text[:pos] + insert + text[pos + cut :]
    try:
        result = parse(mutated)
    except AmlError:
        return
    assert isinstance(result, AmlMessage)
    assert -90 <= result.lat <= 90 and -180 <= result.lon <= 180 and result.radius_m >= 0
