"""fastload's tar reader (fastload.io.tar) and its WebDataset stages (fl.data.tarfile_to_samples, fl.data.WebDataset):
the same samples as webdataset's own stages on tars in every format Python's tarfile writes (ustar with its name
prefix, GNU long names, pax headers, global pax headers), with folders, links, empty and meta files, base-256 and
signed-checksum headers; corrupt and cut-short shards are errors naming the shard, which webdataset's handlers
can skip."""

from __future__ import annotations

import io
import tarfile

import pytest

import fastload as fl
from fastload.io.tar import TarError, members

wds = pytest.importorskip("webdataset")

LONG = "d" * 60 + "/" + "e" * 70  # over 100 characters: ustar's prefix field, a GNU long name or a pax path


def write_tar(path, fmt: int, *, global_pax: dict | None = None) -> list[tuple[str, bytes]]:
    """A tar of samples (keys with jpg / cls / json files) mixed with what a reader must skip; returns the regular
    files as (name, data) in order."""
    files = []
    with tarfile.open(path, "w", format=fmt, pax_headers=global_pax or {}) as tar:

        def add(name, data=None, kind=tarfile.REGTYPE, link=""):
            info = tarfile.TarInfo(name)
            info.type, info.linkname = kind, link
            if data is not None:
                info.size = len(data)
            tar.addfile(info, io.BytesIO(data) if data is not None else None)
            if kind == tarfile.REGTYPE:
                files.append((name, data))

        add("a", kind=tarfile.DIRTYPE)
        for i, size in enumerate([0, 1, 511, 512, 513, 5000]):
            add(f"a/s{i:03d}.jpg", bytes(range(256)) * (size // 256) + bytes(size % 256))
            add(f"a/s{i:03d}.cls", str(i).encode())
        add("__meta__", b"{}")
        add("__index__/x.txt", b"skipped by webdataset")
        add("a/link.jpg", kind=tarfile.SYMTYPE, link="s000.jpg")
        add("a/hard.jpg", kind=tarfile.LNKTYPE, link="a/s001.jpg")
        add(LONG + ".jpg", b"long name")
        add("ü/é.jpg" if fmt != tarfile.USTAR_FORMAT else "u/e.jpg", b"unicode")
    return files


FORMATS = {"ustar": tarfile.USTAR_FORMAT, "gnu": tarfile.GNU_FORMAT, "pax": tarfile.PAX_FORMAT}


def webdataset_samples(urls, stage) -> list:
    return list(wds.DataPipeline(wds.SimpleShardList(urls), stage))


@pytest.mark.parametrize("fmt", FORMATS)
def test_members_are_tarfiles_regular_files(tmp_path, fmt):
    path = tmp_path / "x.tar"
    write_tar(path, FORMATS[fmt])
    with tarfile.open(path) as tar:
        expected = [(m.name, tar.extractfile(m).read()) for m in tar if m.isreg()]
    with open(path, "rb") as f:
        assert list(members(f)) == expected


@pytest.mark.parametrize("fmt", FORMATS)
def test_samples_equal_webdatasets(tmp_path, fmt):
    urls = []
    for shard in range(3):
        urls.append(str(tmp_path / f"s{shard}.tar"))
        write_tar(urls[-1], FORMATS[fmt])
    theirs = webdataset_samples(urls, wds.tarfile_to_samples())
    ours = webdataset_samples(urls, fl.data.tarfile_to_samples())
    assert ours == theirs and len(ours) == 3 * 8
    select = {"select_files": lambda name: not name.endswith(".cls"), "rename_files": lambda name: name.upper()}
    assert webdataset_samples(urls, fl.data.tarfile_to_samples(**select)) == webdataset_samples(
        urls, wds.tarfile_to_samples(**select)
    )


def test_a_global_pax_header_applies_to_every_member(tmp_path):
    path = tmp_path / "g.tar"
    write_tar(path, tarfile.PAX_FORMAT, global_pax={"comment": "made by a test"})
    with tarfile.open(path) as tar:
        expected = [(m.name, tar.extractfile(m).read()) for m in tar if m.isreg()]
    with open(path, "rb") as f:
        assert list(members(f)) == expected


def patched_header(raw: bytearray, offset: int, field: slice, value: bytes, signed: bool = False) -> None:
    """Writes `value` into a header field and its checksum (unsigned, or over signed bytes)."""
    assert len(value) == field.stop - field.start
    raw[field] = value
    header = raw[offset : offset + 512]
    header[148:156] = b" " * 8
    total = sum(header) - (256 * sum(1 for b in header if b >= 128) if signed else 0)
    raw[offset + 148 : offset + 156] = b"%06o\0 " % total


def test_base_256_sizes_and_signed_checksums_are_read(tmp_path):
    path = tmp_path / "x.tar"
    write_tar(path, tarfile.GNU_FORMAT)
    raw = bytearray(path.read_bytes())
    with tarfile.open(path) as tar:
        member = next(m for m in tar if m.name == "a/s005.jpg")
    offset = member.offset
    patched_header(raw, offset, slice(offset + 124, offset + 136), b"\x80" + (5000).to_bytes(11, "big"))
    patched_header(raw, 0, slice(265, 272), "éuser".encode() + b"\0", signed=True)  # a user name with high bytes
    with tarfile.open(fileobj=io.BytesIO(bytes(raw))) as tar:
        expected = [(m.name, tar.extractfile(m).read()) for m in tar if m.isreg()]
    assert list(members(io.BytesIO(bytes(raw)))) == expected


class Trickle(io.RawIOBase):
    """A stream that returns at most 7 bytes a read, as a pipe or a socket may."""

    def __init__(self, data: bytes):
        self.data, self.position = data, 0

    def readable(self):
        return True

    def read(self, size=-1):
        size = min(7, size if size >= 0 else 7)
        chunk = self.data[self.position : self.position + size]
        self.position += len(chunk)
        return chunk


def test_short_reads_are_completed(tmp_path):
    path = tmp_path / "x.tar"
    expected = write_tar(path, tarfile.PAX_FORMAT)
    assert list(members(Trickle(path.read_bytes()))) == expected


@pytest.mark.parametrize(
    "damage, words",
    [
        (lambda raw: raw[: len(raw) // 2], "cut short"),
        (lambda raw: raw[:700], "cut short"),
        (lambda raw: raw[:100], "header cut short"),
        (lambda raw: raw[:148] + b"7777777\0" + raw[156:], "checksum"),
        (lambda raw: b"not a tar file at all" * 40, "checksum|bad number"),
    ],
)
def test_a_damaged_shard_is_an_error_naming_it_that_a_handler_can_skip(tmp_path, damage, words):
    good, bad = tmp_path / "good.tar", tmp_path / "bad.tar"
    write_tar(good, tarfile.PAX_FORMAT)
    bad.write_bytes(damage(good.read_bytes()))
    with open(bad, "rb") as f, pytest.raises(TarError, match=words):
        list(members(f, str(bad)))
    with pytest.raises(TarError, match="bad.tar"):
        webdataset_samples([str(bad), str(good)], fl.data.tarfile_to_samples())
    with pytest.warns(UserWarning):
        kept = webdataset_samples([str(bad), str(good)], fl.data.tarfile_to_samples(handler=wds.warn_and_continue))
    assert [s["__url__"] for s in kept][-8:] == [str(good)] * 8  # the good shard after the bad one, whole


def test_gnu_sparse_members_are_refused(tmp_path):
    path = tmp_path / "x.tar"
    write_tar(path, tarfile.GNU_FORMAT)
    raw = bytearray(path.read_bytes())
    with tarfile.open(path) as tar:
        offset = next(m for m in tar if m.name == "a/s001.jpg").offset
    patched_header(raw, offset, slice(offset + 156, offset + 157), b"S")
    with pytest.raises(TarError, match="sparse"):
        list(members(io.BytesIO(bytes(raw))))


def test_webdataset_class_swaps_only_the_tar_stage(tmp_path):
    from fastload.data import webdataset as fl_webdataset

    urls = [str(tmp_path / "s.tar")]
    write_tar(urls[0], tarfile.PAX_FORMAT)
    ours = fl.data.WebDataset(urls, shardshuffle=False, empty_check=False)
    assert any(getattr(stage, "f", None) is fl_webdataset.tar_file_expander for stage in ours.pipeline)
    assert list(ours) == list(wds.WebDataset(urls, shardshuffle=False, empty_check=False))


class Counting(io.BytesIO):
    """A stream that records the largest read asked of it."""

    largest = 0

    def read(self, size=-1):
        self.largest = max(self.largest, size)
        return super().read(size)


@pytest.mark.parametrize(
    "size_field, words",
    [
        (b"\x80" + (1 << 60).to_bytes(11, "big"), "cut short"),  # claims an exabyte: the stream ends first
        (b"\xff" + bytes(10) + b"\x05", "negative size"),
    ],
)
def test_a_size_the_stream_cannot_hold_is_an_error_before_any_large_read(tmp_path, size_field, words):
    path = tmp_path / "x.tar"
    write_tar(path, tarfile.GNU_FORMAT)
    raw = bytearray(path.read_bytes())
    with tarfile.open(path) as tar:
        offset = next(m for m in tar if m.name == "a/s003.jpg").offset
    patched_header(raw, offset, slice(offset + 124, offset + 136), size_field)
    stream = Counting(bytes(raw))
    with pytest.raises(TarError, match=words):
        list(members(stream, "x.tar"))
    assert stream.largest <= 1 << 24


def _with_pax_record(record: bytes) -> bytes:
    """A tar of one member after a pax header holding `record`, as written byte for byte."""
    pax = tarfile.TarInfo("././@PaxHeader")
    pax.type, pax.size = tarfile.XHDTYPE, len(record)
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w", format=tarfile.USTAR_FORMAT) as tar:
        tar.addfile(pax, io.BytesIO(record))
        info = tarfile.TarInfo("a/1.jpg")
        info.size = 3
        tar.addfile(info, io.BytesIO(b"abc"))
    return buffer.getvalue()


def test_a_pax_size_that_is_not_a_number_is_an_error(tmp_path):
    with pytest.raises(TarError, match="pax size"):
        list(members(io.BytesIO(_with_pax_record(b"20 size=12a45678901\n"))))
    with pytest.raises(TarError, match="pax size"):  # a digit, but not an ASCII one
        list(members(io.BytesIO(_with_pax_record("11 size=\u00b2\n".encode()))))


@pytest.mark.parametrize("record", [b"0 path=a\n", b"-3 path=a\n", b"3 path=a\n", b"99 path=a\n", b"10 path=abc"])
def test_a_pax_record_of_a_bad_length_is_an_error_not_a_hang(record):
    """A record's length must reach past its digits, stay inside the header and end at a newline: a length of 0
    read the same record for ever."""
    with pytest.raises(TarError, match="pax header that cannot be read"):
        list(members(io.BytesIO(_with_pax_record(record))))
