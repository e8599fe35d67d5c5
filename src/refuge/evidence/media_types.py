"""Media types from magic bytes: a small signature table, no libmagic.

The type a client declares is never trusted (it is whatever the sender's browser guessed, or
whatever an attacker wants the server to repeat). Anything not recognised here is served as
application/octet-stream, and every download is an attachment with nosniff anyway.
"""

from __future__ import annotations

OCTET_STREAM = "application/octet-stream"
# How many leading bytes detection looks at. Office documents name their parts
# ("word/document.xml") in the zip's local headers, usually in the first few entries.
HEAD_BYTES = 64 * 1024

_SIMPLE: tuple[tuple[bytes, str], ...] = (
    (b"\xff\xd8\xff", "image/jpeg"),
    (b"\x89PNG\r\n\x1a\n", "image/png"),
    (b"GIF87a", "image/gif"),
    (b"GIF89a", "image/gif"),
    (b"%PDF-", "application/pdf"),
    (b"ID3", "audio/mpeg"),
)
_ODF_PREFIX = b"mimetypeapplication/vnd.oasis.opendocument."
_ODF = {
    b"text": "application/vnd.oasis.opendocument.text",
    b"spreadsheet": "application/vnd.oasis.opendocument.spreadsheet",
    b"presentation": "application/vnd.oasis.opendocument.presentation",
}
_OOXML = (
    (b"word/", "application/vnd.openxmlformats-officedocument.wordprocessingml.document"),
    (b"xl/", "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"),
    (b"ppt/", "application/vnd.openxmlformats-officedocument.presentationml.presentation"),
)
_QUICKTIME_ATOMS = (b"moov", b"mdat", b"wide", b"free", b"pnot", b"skip")
# Bytes allowed in plain text besides printable characters: tab, LF, FF, CR, ESC is not.
_TEXT_CONTROLS = frozenset(b"\t\n\x0c\r")
_MP3_SYNC_MIN = 0xE0
_MIN_UTF8_TAIL = 3


def detect(head: bytes) -> str:
    """The media type of a file that starts with `head` (its first HEAD_BYTES, or all of it)."""
    for magic, media_type in _SIMPLE:
        if head.startswith(magic):
            return media_type
    for detector in (_riff, _iso_media, _matroska, _ogg, _zip, _mp3_frame, _text):
        found = detector(head)
        if found:
            return found
    return OCTET_STREAM


def _riff(head: bytes) -> str:
    if head[:4] != b"RIFF":
        return ""
    return {b"WEBP": "image/webp", b"WAVE": "audio/wav"}.get(head[8:12], "")


def _iso_media(head: bytes) -> str:
    """MP4 and QuickTime: a box of type `ftyp` (with a brand) or an older QuickTime atom."""
    box_type = head[4:8]
    if box_type == b"ftyp":
        brand = head[8:12]
        if brand == b"qt  ":
            return "video/quicktime"
        if brand in {b"M4A ", b"M4B "}:
            return "audio/mp4"
        return "video/mp4"
    if box_type in _QUICKTIME_ATOMS and len(head) >= 8:  # noqa: PLR2004
        return "video/quicktime"
    return ""


def _matroska(head: bytes) -> str:
    if not head.startswith(b"\x1a\x45\xdf\xa3"):
        return ""
    # The EBML header names the document type within its first few dozen bytes.
    return "video/webm" if b"webm" in head[:64] else "video/x-matroska"


def _ogg(head: bytes) -> str:
    if not head.startswith(b"OggS"):
        return ""
    first_page = head[:512]
    if b"\x80theora" in first_page:
        return "video/ogg"
    return "audio/ogg"


def _zip(head: bytes) -> str:
    if not head.startswith(b"PK\x03\x04"):
        return ""
    if head[30:].startswith(_ODF_PREFIX):
        kind = head[30 + len(_ODF_PREFIX) :].split(b"P", 1)[0]
        for name, media_type in _ODF.items():
            if kind.startswith(name):
                return media_type
    if b"[Content_Types].xml" in head:
        for marker, media_type in _OOXML:
            if marker in head:
                return media_type
    return "application/zip"


def _mp3_frame(head: bytes) -> str:
    """An MPEG audio frame without an ID3 tag: 11 set sync bits, layer III."""
    if len(head) >= 2 and head[0] == 0xFF and head[1] & _MP3_SYNC_MIN == _MP3_SYNC_MIN:  # noqa: PLR2004
        layer = (head[1] >> 1) & 0b11
        if layer == 0b01:
            return "audio/mpeg"
    return ""


def _text(head: bytes) -> str:
    """UTF-8 without control characters (a multi-byte character cut off at the end of the head
    still counts)."""
    if not head:
        return ""
    try:
        text = head.decode("utf-8")
    except UnicodeDecodeError as error:
        if error.start < len(head) - _MIN_UTF8_TAIL or error.reason != "unexpected end of data":
            return ""
        text = head[: error.start].decode("utf-8")
    if any((ord(c) < 0x20 and ord(c) not in _TEXT_CONTROLS) or ord(c) == 0x7F for c in text):  # noqa: PLR2004
        return ""
    return "text/plain"


# A file extension per type, for the download name of someone who may not see the original.
EXTENSIONS = {
    "image/jpeg": "jpg",
    "image/png": "png",
    "image/gif": "gif",
    "image/webp": "webp",
    "video/mp4": "mp4",
    "video/quicktime": "mov",
    "video/webm": "webm",
    "video/x-matroska": "mkv",
    "video/ogg": "ogv",
    "audio/mpeg": "mp3",
    "audio/mp4": "m4a",
    "audio/ogg": "ogg",
    "audio/wav": "wav",
    "application/pdf": "pdf",
    "application/zip": "zip",
    "application/vnd.openxmlformats-officedocument.wordprocessingml.document": "docx",
    "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet": "xlsx",
    "application/vnd.openxmlformats-officedocument.presentationml.presentation": "pptx",
    "application/vnd.oasis.opendocument.text": "odt",
    "application/vnd.oasis.opendocument.spreadsheet": "ods",
    "application/vnd.oasis.opendocument.presentation": "odp",
    "text/plain": "txt",
}


def extension(media_type: str) -> str:
    return EXTENSIONS.get(media_type, "bin")
