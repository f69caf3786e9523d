"""Recognise audio by its first bytes (magic numbers), never by the declared content type.

A recording is evidence played in a browser; anything that is not one of these containers is
refused, so an HTML page, a script or an executable can never be stored and served as a "recording".
"""

from __future__ import annotations

MP4_AUDIO_BRANDS = {b"M4A ", b"M4B ", b"mp42", b"isom", b"mp41", b"dash", b"3gp4", b"3gp5", b"3gp6"}


def sniff(head: bytes) -> tuple[str, str] | None:
    """(media type, file extension) of an audio container, or None."""
    if len(head) >= 12 and head[:4] == b"RIFF" and head[8:12] == b"WAVE":
        return "audio/wav", "wav"
    if head[:4] == b"OggS":
        return "audio/ogg", "ogg"
    if head[:4] == b"fLaC":
        return "audio/flac", "flac"
    if head[:3] == b"ID3":
        return "audio/mpeg", "mp3"
    # An MPEG audio frame header: 11 sync bits, then a layer other than "reserved" (00).
    if len(head) >= 2 and head[0] == 0xFF and head[1] & 0xE0 == 0xE0 and head[1] & 0x06 != 0:
        return "audio/mpeg", "mp3"
    if head[:6] == b"#!AMR\n":
        return "audio/amr", "amr"
    if len(head) >= 12 and head[4:8] == b"ftyp" and head[8:12] in MP4_AUDIO_BRANDS:
        return "audio/mp4", "m4a"
    return None
