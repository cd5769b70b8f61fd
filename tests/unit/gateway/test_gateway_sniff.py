"""Magic-byte sniffing: the file's content decides its type, not its name or declared type."""

from __future__ import annotations

import pytest
from clipforge_gateway.domain.sniff import AVI, FLAC, M4A, MKV, MOV, MP3, MP4, OGG, WAV, WEBM, sniff


@pytest.mark.parametrize(
    ("head", "expected"),
    [
        (b"\x00\x00\x00\x20ftypisom\x00\x00\x02\x00isomiso2avc1mp41", MP4),
        (b"\x00\x00\x00\x18ftypmp42\x00\x00\x00\x00mp42isom", MP4),
        (b"\x00\x00\x00\x14ftypqt  \x00\x00\x02\x00qt  ", MOV),
        (b"\x00\x00\x00\x08wide\x00\x00\x00\x00mdat", MOV),
        (b"\x00\x00\x00\x20ftypM4A \x00\x00\x00\x00M4A mp42isom", M4A),
        (b"\x1a\x45\xdf\xa3\x9f\x42\x86\x81\x01\x42\xf7\x81\x01\x42\xf2\x81\x04\x42\xf3\x81\x08\x42\x82\x84webm", WEBM),
        (
            b"\x1a\x45\xdf\xa3\xa3\x42\x86\x81\x01\x42\xf7\x81\x01\x42\xf2\x81\x04\x42\xf3\x81\x08\x42\x82\x88matroska",
            MKV,
        ),
        (b"ID3\x04\x00\x00\x00\x00\x00\x23TSSE", MP3),
        (b"\xff\xfb\x90\x64\x00\x00\x00\x00", MP3),  # MPEG-1 Layer III frame, 128 kbit/s, 44.1 kHz
        (b"\xff\xf3\x84\xc4\x00\x00", MP3),  # MPEG-2 Layer III
        (b"RIFF\x24\x08\x00\x00WAVEfmt \x10\x00\x00\x00", WAV),
        (b"RIFF\x24\x08\x00\x00AVI LIST", AVI),
        (b"OggS\x00\x02\x00\x00\x00\x00\x00\x00\x00\x00", OGG),
        (b"fLaC\x00\x00\x00\x22", FLAC),
    ],
)
def test_known_signatures(head: bytes, expected: object) -> None:
    assert sniff(head) == expected


@pytest.mark.parametrize(
    "head",
    [
        b"",
        b"\x00\x00",
        b"%PDF-1.7\n%\xe2\xe3\xcf\xd3",
        b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR",
        b"\xff\xd8\xff\xe0\x00\x10JFIF",  # JPEG: starts with 0xFF but is no MPEG frame
        b"\xff\xf1\x50\x80\x02\x1f\xfc",  # AAC ADTS: frame sync but layer 00
        b"\xff\xfb\xf0\x64",  # bitrate index 1111 is invalid
        b"PK\x03\x04\x14\x00",
        b"RIFF\x24\x08\x00\x00WEBPVP8 ",
        b"<html><body>not a video</body></html>",
        b"MZ\x90\x00\x03\x00",
    ],
)
def test_other_content_is_refused(head: bytes) -> None:
    assert sniff(head) is None
