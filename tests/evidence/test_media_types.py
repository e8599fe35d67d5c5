"""Media types come from a small table of magic bytes."""

from __future__ import annotations

import pytest

from refuge.evidence import media_types

DOCX_HEAD = (
    b"PK\x03\x04" + b"\x00" * 26 + b"[Content_Types].xml" + b"\x00" * 40 + b"word/document.xml"
)
ODT_HEAD = b"PK\x03\x04" + b"\x00" * 26 + b"mimetypeapplication/vnd.oasis.opendocument.textPK"


@pytest.mark.parametrize(
    ("head", "expected"),
    [
        (b"\xff\xd8\xff\xe0\x00\x10JFIF", "image/jpeg"),
        (b"\x89PNG\r\n\x1a\n\x00\x00", "image/png"),
        (b"GIF89a\x01\x00", "image/gif"),
        (b"RIFF\x00\x00\x00\x00WEBPVP8 ", "image/webp"),
        (b"RIFF\x00\x00\x00\x00WAVEfmt ", "audio/wav"),
        (b"\x00\x00\x00\x18ftypmp42\x00\x00", "video/mp4"),
        (b"\x00\x00\x00\x14ftypqt  \x00\x00", "video/quicktime"),
        (b"\x00\x00\x00\x08wide\x00\x00", "video/quicktime"),
        (b"\x1a\x45\xdf\xa3\x9f\x42\x86\x81\x01\x42\x82\x84webm", "video/webm"),
        (b"\x1a\x45\xdf\xa3\x9f\x42\x86\x81\x01\x42\x82\x88matroska", "video/x-matroska"),
        (b"ID3\x04\x00\x00", "audio/mpeg"),
        (b"\xff\xfb\x90\x64\x00", "audio/mpeg"),
        (b"OggS\x00\x02" + b"\x00" * 22 + b"\x01vorbis", "audio/ogg"),
        (b"OggS\x00\x02" + b"\x00" * 22 + b"\x80theora", "video/ogg"),
        (b"%PDF-1.7\n", "application/pdf"),
        (DOCX_HEAD, "application/vnd.openxmlformats-officedocument.wordprocessingml.document"),
        (ODT_HEAD, "application/vnd.oasis.opendocument.text"),
        (b"PK\x03\x04\x14\x00", "application/zip"),
        ("Протокол допроса\nстрока 2\n".encode(), "text/plain"),
        (b"\x00\x01\x02\x03binary", "application/octet-stream"),
        (b"", "application/octet-stream"),
    ],
)
def test_detect(head, expected):
    assert media_types.detect(head) == expected


def test_text_cut_in_the_middle_of_a_character_is_still_text():
    head = "запись".encode()[:-1]
    assert media_types.detect(head) == "text/plain"


def test_html_is_never_served_as_html():
    assert media_types.detect(b"<html><script>alert(1)</script></html>") == "text/plain"
