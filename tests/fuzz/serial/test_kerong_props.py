"""Properties of the Kerong CU16 reply reader for any bytes a line delivers (issue 12).

Decode level, many examples: `StatusReader` is the framing the serial bus hands each chunk to.
Whatever comes in, in whatever pieces: it never raises (but for a quirky frame in strict mode,
which names the setting), accepts only a whole frame with a valid checksum that answers the
request (board, ADDR, reply command byte), finds the answer behind garbage and broken or stale
frames, gives the same answer however the bytes are split, and counts what it skipped.
"""

from __future__ import annotations

from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from adapters.kerong_cu16 import frames as kerong
from tests.fuzz import figures
from tests.fuzz.strategies import examples, kerong_broken, kerong_status, splits

FAST = settings(
    max_examples=examples(400), deadline=None, suppress_health_check=[HealthCheck.too_slow]
)
BOARD, LOCK = 1, 4
ADDR = kerong.address(BOARD, LOCK)


def reader(command: kerong.Command = kerong.Command.UNLOCK) -> kerong.StatusReader:
    return kerong.StatusReader(board=BOARD, lenient=False, address=ADDR, command=command)


def feed(chunks: list[bytes], read: kerong.StatusReader) -> bytes | None:
    """As SerialBus._read does: extend the buffer by each chunk, ask the reader each time."""
    buffer = bytearray()
    for chunk in chunks:
        buffer.extend(chunk)
        try:
            frame = read(buffer)
        except kerong.QuirkyFrame:
            return b"quirk"
        if frame is not None:
            return frame
    return None


def answer(bits: bytes) -> bytes:
    body = bytes([kerong.STX, ADDR, kerong.STATUS, *bits, kerong.ETX])
    return body + bytes([kerong.checksum(body)])


def answers(frame: bytes) -> bool:
    status = kerong.decode_status(frame)
    return status.board == BOARD and status.address == ADDR and status.reply == kerong.STATUS


@FAST
@given(stream=st.binary(max_size=120), data=st.data())
@example(stream=bytes.fromhex("02 00 36 ff ff 00 00 03 39"), data=None)  # a board read's reply
def test_any_bytes_in_any_pieces_yield_an_answer_or_nothing(
    stream: bytes, data: st.DataObject | None
) -> None:
    chunks = data.draw(splits(stream)) if data is not None else [stream]
    figures.count("kerong-decode", "byte streams", 1)
    frame = feed(chunks, reader())
    figures.count("kerong-decode", "answer" if frame not in (None, b"quirk") else "nothing")
    if frame not in (None, b"quirk"):
        assert frame is not None
        assert answers(frame)


@FAST
@given(
    bits=st.binary(min_size=4, max_size=4),
    before=st.lists(
        st.one_of(
            st.binary(max_size=12),
            kerong_broken().map(lambda b: b[1]).filter(lambda f: f[:1] != b"\x02" or len(f) < 9),
            kerong_status(reply=kerong.STATUS_ALL),  # a late reply to a board read
            kerong_status(board=(BOARD + 1) % kerong.MAX_BOARDS),  # another board's
        ),
        max_size=4,
    ),
    data=st.data(),
)
def test_the_answer_is_found_behind_noise_and_stale_replies(
    bits: bytes, before: list[bytes], data: st.DataObject
) -> None:
    good = answer(bits)
    stream = b"".join(before) + good
    figures.count("kerong-decode", "answers behind noise and stale replies")
    read = reader()
    frame = feed(data.draw(splits(stream)), read)
    if frame == b"quirk":
        return  # a broken frame that happens to carry the STX-less sum: refused by name
    assert frame is not None, stream.hex(" ")
    assert answers(frame)
    if frame == good:
        # Everything before it was skipped or dropped, and counted.
        assert read.skipped == len(stream) - len(good)


@FAST
@given(broken=kerong_broken(), data=st.data())
def test_a_broken_frame_alone_is_never_an_answer(
    broken: tuple[str, bytes], data: st.DataObject
) -> None:
    how, frame = broken
    figures.count("kerong-decode: broken frames", how)
    board = frame[1] >> 4 if len(frame) > 1 and frame[1] >> 4 < kerong.MAX_BOARDS else 0
    got = feed(data.draw(splits(frame)), kerong.StatusReader(board=board, lenient=False))
    if how == "quirk":
        assert got == b"quirk"
    else:
        assert got is None


@FAST
@given(frame=kerong_status(), data=st.data())
def test_split_reads_change_nothing(frame: bytes, data: st.DataObject) -> None:
    read_whole = kerong.StatusReader(board=frame[1] >> 4, lenient=False)
    read_split = kerong.StatusReader(board=frame[1] >> 4, lenient=False)
    assert feed([frame], read_whole) == feed(data.draw(splits(frame)), read_split) == frame
