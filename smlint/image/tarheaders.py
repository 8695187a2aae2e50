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


def _octal(field: bytes) -> int:
    """tarfile's nti() for an octal field: up to the first NUL, spaces stripped."""
    return int(field.split(b"\0", 1)[0].strip() or b"0", 8)


def _text(field: bytes, encoding: str, errors: str) -> str:
    return field.split(b"\0", 1)[0].decode(encoding, errors)


class FastTarInfo(tarfile.TarInfo):
    @classmethod
    def frombuf(cls, buf, encoding, errors):
        kind = buf[156:157]
        if len(buf) != tarfile.BLOCKSIZE or kind not in _PLAIN_TYPES or buf[0] in (0, 0x80, 0xFF):
            return super().frombuf(buf, encoding, errors)
        try:
            checksum = _octal(buf[148:156])
            numbers = [_octal(buf[start:end]) for start, end in
                       ((100, 108), (108, 116), (116, 124), (124, 136), (136, 148), (329, 337), (337, 345))]
        except ValueError:  # base-256 numbers, garbage: tarfile decides
            return super().frombuf(buf, encoding, errors)
        if checksum != sum(buf) - sum(buf[148:156]) + _CHECKSUM_SPACES:
            return super().frombuf(buf, encoding, errors)  # a signed checksum, or a bad one
        info = cls()
        info.name = _text(buf[0:100], encoding, errors)
        info.mode, info.uid, info.gid, info.size, info.mtime, info.devmajor, info.devminor = numbers
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
