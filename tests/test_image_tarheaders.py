"""FastTarInfo: the same headers as tarfile's own parser."""
from __future__ import annotations

import io
import tarfile

import pytest



pytestmark = pytest.mark.usefixtures("cache_home")  # each test its own layer cache


def _headers_tar(fmt: int) -> bytes:
    buffer = io.BytesIO()
    long_dir = "deep/" + "x" * 90 + "/" + "y" * 60  # ustar splits it into prefix + name
    with tarfile.open(fileobj=buffer, mode="w", format=fmt) as tar:
        for name, kind, link in [("etc/", tarfile.DIRTYPE, ""), ("etc/passwd", tarfile.REGTYPE, ""),
                                 ("bin/sh", tarfile.SYMTYPE, "busybox"), ("bin/ash", tarfile.LNKTYPE, "bin/sh"),
                                 (long_dir + "/", tarfile.DIRTYPE, ""), (long_dir + "/f.py", tarfile.REGTYPE, ""),
                                 ("n" * 150, tarfile.REGTYPE, ""), ("dev/null", tarfile.CHRTYPE, ""),
                                 ("fifo", tarfile.FIFOTYPE, ""), ("l" * 120, tarfile.SYMTYPE, "t" * 120),
                                 ("caf\u00e9/\u00fc.txt", tarfile.REGTYPE, "")]:
            if fmt == tarfile.USTAR_FORMAT and (len(name) > 100 and "/" not in name or len(link) > 100):
                continue  # ustar cannot hold it
            info = tarfile.TarInfo(name)
            big_id = 2_000_000 if fmt == tarfile.USTAR_FORMAT or name != "etc/passwd" else 10 ** 9  # base-256
            info.type, info.linkname, info.mode, info.uid, info.gid = kind, link, 0o4755, 1000, big_id
            info.mtime, info.uname, info.gname = 1_700_000_000, "user", "group"
            data = b"x" * 700 if kind == tarfile.REGTYPE else b""
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
    return buffer.getvalue()


@pytest.mark.parametrize("fmt", [tarfile.USTAR_FORMAT, tarfile.GNU_FORMAT, tarfile.PAX_FORMAT])
def test_fast_tar_headers_match_tarfiles_own(fmt):
    from smlint.image.tarheaders import FastTarInfo

    data = _headers_tar(fmt)
    fields = ("name", "type", "mode", "uid", "gid", "size", "mtime", "chksum", "linkname", "uname", "gname",
              "devmajor", "devminor", "offset", "offset_data", "pax_headers")
    with tarfile.open(fileobj=io.BytesIO(data), tarinfo=FastTarInfo) as fast, \
            tarfile.open(fileobj=io.BytesIO(data)) as plain:
        ours, theirs = fast.getmembers(), plain.getmembers()
    assert len(ours) == len(theirs) >= 9
    for mine, reference in zip(ours, theirs):
        assert [getattr(mine, f) for f in fields] == [getattr(reference, f) for f in fields], reference.name


def test_fast_tar_headers_leave_odd_ones_to_tarfile():
    from smlint.image.tarheaders import FastTarInfo

    info = tarfile.TarInfo("big")
    info.size = 8 ** 11 + 5  # past 11 octal digits: GNU base-256
    header = info.tobuf(format=tarfile.GNU_FORMAT)
    assert FastTarInfo.frombuf(header, "utf-8", "surrogateescape").size == info.size
    bad = bytearray(tarfile.TarInfo("f").tobuf(format=tarfile.USTAR_FORMAT))
    bad[0] ^= 1  # the checksum no longer matches
    with pytest.raises(tarfile.InvalidHeaderError):
        FastTarInfo.frombuf(bytes(bad), "utf-8", "surrogateescape")
    with pytest.raises(tarfile.EOFHeaderError):
        FastTarInfo.frombuf(bytes(512), "utf-8", "surrogateescape")
    fields = ("name", "mode", "uid", "gid", "size", "mtime", "chksum", "devmajor", "devminor", "type")
    for start, end, value in ((329, 345, bytes(16)), (108, 116, bytes(8)), (100, 108, b"06\x0044  \0"),
                              (124, 136, b" 17 \0\0\0\0\0\0\0\0"), (329, 337, b"0000012\0")):
        header = bytearray(tarfile.TarInfo("odd/field").tobuf(format=tarfile.USTAR_FORMAT))
        header[start:end] = value
        header[148:156] = b"%06o\0 " % (sum(header[:148]) + sum(header[156:]) + 256)
        fast = FastTarInfo.frombuf(bytes(header), "utf-8", "surrogateescape")
        plain = tarfile.TarInfo.frombuf(bytes(header), "utf-8", "surrogateescape")
        assert [getattr(fast, f) for f in fields] == [getattr(plain, f) for f in fields], value
