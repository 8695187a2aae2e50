"""A faster reading of the common tar header, for layers with millions of entries.

tarfile.TarInfo.frombuf parses all 17 fields one by one (about 60 us per
header here); a layer walk spends three quarters of its time there.
`FastTarInfo.frombuf` reads the plain case (a regular file, directory,
symlink or hard link with octal numbers and a matching unsigned checksum) in
a few slices and sets the very fields tarfile sets, with the same values;
anything else (an end block, base-256 numbers, a signed checksum, a V7
directory, GNU sparse or long-name headers, PAX headers) goes to tarfile's
own parser unchanged. tests/test_image_walker.py compares both on tars of
every format.
"""
from __future__ import annotations

import tarfile

_PLAIN_TYPES = frozenset((tarfile.REGTYPE, tarfile.DIRTYPE, tarfile.SYMTYPE, tarfile.LNKTYPE))
_CHECKSUM_SPACES = 8 * 32  # the checksum field counts as eight spaces


_NUL_TO_SPACE = bytes.maketrans(b"\0", b" ")


def _octals(region: bytes, count: int) -> list[int] | None:
    """The `count` adjacent octal fields in `region`, as tarfile's nti() reads
    them, or None when they are not each one run of digits padded by NULs or
    spaces (an empty field, a NUL inside digits, base-256: tarfile decides)."""
    words = region.translate(_NUL_TO_SPACE).split()
    if len(words) != count:
        return None
    try:
        return [int(word, 8) for word in words]
    except ValueError:
        return None


def _text(field: bytes, encoding: str, errors: str) -> str:
    return field.split(b"\0", 1)[0].decode(encoding, errors)


class FastTarInfo(tarfile.TarInfo):
    @classmethod
    def frombuf(cls, buf, encoding, errors):
        kind = buf[156:157]
        if len(buf) != tarfile.BLOCKSIZE or kind not in _PLAIN_TYPES or buf[0] in (0, 0x80, 0xFF):
            return super().frombuf(buf, encoding, errors)
        numbers = _octals(buf[100:156], 6)  # mode, uid, gid, size, mtime, chksum
        devices = _octals(buf[329:345], 2) if buf[329:345].strip(b"\0 ") else [0, 0]
        if numbers is None or devices is None:
            return super().frombuf(buf, encoding, errors)
        checksum = numbers[5]
        if checksum != sum(buf) - sum(buf[148:156]) + _CHECKSUM_SPACES:
            return super().frombuf(buf, encoding, errors)  # a signed checksum, or a bad one
        info = cls()
        info.name = _text(buf[0:100], encoding, errors)
        info.mode, info.uid, info.gid, info.size, info.mtime = numbers[:5]
        info.devmajor, info.devminor = devices
        info.chksum = checksum
        info.type = kind
        info.linkname = _text(buf[157:257], encoding, errors)
        info.uname = _text(buf[265:297], encoding, errors)
        info.gname = _text(buf[297:329], encoding, errors)
        prefix = _text(buf[345:500], encoding, errors)
        if kind == tarfile.DIRTYPE:
            info.name = info.name.rstrip("/")
        if prefix:  # a ustar long name (none of these types is a GNU type)
            info.name = prefix + "/" + info.name
        return info
