"""Media type sniffing from magic bytes: what a file is, whatever name or Content-Type it came with."""

from __future__ import annotations

from dataclasses import dataclass

# Enough for every signature below (the Matroska DocType sits within the first few dozen bytes).
SNIFF_BYTES = 64


@dataclass(frozen=True)
class MediaKind:
    media_type: str
    ext: str


MP4 = MediaKind("video/mp4", "mp4")
MOV = MediaKind("video/quicktime", "mov")
M4A = MediaKind("audio/mp4", "m4a")
WEBM = MediaKind("video/webm", "webm")
MKV = MediaKind("video/x-matroska", "mkv")
MP3 = MediaKind("audio/mpeg", "mp3")
WAV = MediaKind("audio/wav", "wav")
OGG = MediaKind("audio/ogg", "ogg")
FLAC = MediaKind("audio/flac", "flac")
AVI = MediaKind("video/x-msvideo", "avi")

_AUDIO_MP4_BRANDS = {b"M4A ", b"M4B ", b"M4P ", b"F4A ", b"F4B "}
# Old QuickTime files may start with one of these atoms instead of `ftyp`.
_QUICKTIME_ATOMS = {b"moov", b"mdat", b"wide", b"free", b"skip", b"pnot"}


def _is_mpeg_audio_frame(head: bytes) -> bool:
    """An MPEG-1/2/2.5 Layer III frame header (11-bit sync plus valid version/layer/bitrate/rate)."""
    if len(head) < 4 or head[0] != 0xFF or (head[1] & 0xE0) != 0xE0:
        return False
    version = (head[1] >> 3) & 0b11  # 01 is reserved
    layer = (head[1] >> 1) & 0b11  # 01 = Layer III
    bitrate = head[2] >> 4  # 0000 free, 1111 bad
    rate = (head[2] >> 2) & 0b11  # 11 reserved
    return version != 0b01 and layer == 0b01 and bitrate not in (0, 0xF) and rate != 0b11


def sniff(head: bytes) -> MediaKind | None:
    """The media kind of a file from its first bytes (:data:`SNIFF_BYTES` are enough), or None."""
    if len(head) >= 12 and head[4:8] == b"ftyp":
        brand = head[8:12]
        if brand == b"qt  ":
            return MOV
        if brand in _AUDIO_MP4_BRANDS:
            return M4A
        return MP4
    if len(head) >= 8 and head[4:8] in _QUICKTIME_ATOMS:
        return MOV
    if head[:4] == b"\x1a\x45\xdf\xa3":
        return WEBM if b"webm" in head[:SNIFF_BYTES] else MKV
    if head[:3] == b"ID3" or _is_mpeg_audio_frame(head):
        return MP3
    if head[:4] == b"RIFF" and len(head) >= 12:
        if head[8:12] == b"WAVE":
            return WAV
        if head[8:12] == b"AVI ":
            return AVI
        return None
    if head[:4] == b"OggS":
        return OGG
    if head[:4] == b"fLaC":
        return FLAC
    return None
