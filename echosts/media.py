"""Dubbed audio that is not an echo (section 13): decode, build the output, encode.

Audio is handled as float32 samples, one row per channel, between -1 and 1. PCM and WAV go
through numpy and the standard library's ``wave``; M4A (AAC in an MP4 container, what the
media worker sends and expects) through PyAV, whose wheels bundle FFmpeg's native AAC encoder
and MP4 muxer. Resampling and time-stretch are linear interpolation: a test double needs the
right length and a recognisable signal, not studio quality; a stretch changes pitch.

Everything here is CPU work on bytes and arrays, no IO: the service runs it in a thread
pool, never on its event loop. numpy and PyAV load with this module, on first use.
"""

from __future__ import annotations

import io
import wave
from dataclasses import dataclass

import av
import numpy as np

FORMATS = ("pcm_s16le", "pcm_f32le", "wav", "m4a")
M4A_BIT_RATE = 128_000
"""What the real service encodes its TTS output at."""
TONE_AMPLITUDE = 0.5
"""Half of full scale."""


class UndecodableAudioError(ValueError):
    """The received audio is not what its fields say (INVALID_AUDIO_FORMAT)."""


@dataclass(frozen=True)
class Audio:
    """Samples (channels x frames, float32 in [-1, 1]) at a sample rate."""

    samples: np.ndarray
    sample_rate_hz: int

    @property
    def channels(self) -> int:
        return int(self.samples.shape[0])

    @property
    def frames(self) -> int:
        return int(self.samples.shape[1])

    @property
    def duration_ms(self) -> int:
        return round(self.frames * 1000 / self.sample_rate_hz)


@dataclass(frozen=True)
class Encoded:
    """Encoded output and the fields that describe it exactly."""

    data: bytes
    format: str
    sample_rate_hz: int
    channels: int
    duration_ms: int


def decode(data: bytes, fmt: str, sample_rate_hz: int, channels: int) -> Audio:
    """The samples of ``data``; raw PCM needs the rate and channels its fields give."""
    try:
        if fmt == "pcm_s16le":
            return _raw(
                np.frombuffer(data, dtype="<i2").astype(np.float32) / 32768.0,
                sample_rate_hz,
                channels,
            )
        if fmt == "pcm_f32le":
            return _raw(
                np.frombuffer(data, dtype="<f4").astype(np.float32), sample_rate_hz, channels
            )
        if fmt == "wav":
            return _decode_wav(data)
        if fmt == "m4a":
            return _decode_container(data)
    except UndecodableAudioError:
        raise
    except (ValueError, EOFError, wave.Error, av.FFmpegError) as problem:
        raise UndecodableAudioError(f"{fmt} audio cannot be decoded: {problem}") from None
    raise UndecodableAudioError(f"cannot decode format {fmt!r}; one of {', '.join(FORMATS)}")


def _raw(flat: np.ndarray, sample_rate_hz: int, channels: int) -> Audio:
    if flat.size % channels:
        raise UndecodableAudioError(f"{flat.size} samples do not split into {channels} channels")
    return Audio(flat.reshape(-1, channels).T.copy(), sample_rate_hz)


def _decode_wav(data: bytes) -> Audio:
    with wave.open(io.BytesIO(data)) as reader:
        width = reader.getsampwidth()
        rate, channels = reader.getframerate(), reader.getnchannels()
        raw = reader.readframes(reader.getnframes())
    if width == 2:
        flat = np.frombuffer(raw, dtype="<i2").astype(np.float32) / 32768.0
    elif width == 1:
        flat = (np.frombuffer(raw, dtype=np.uint8).astype(np.float32) - 128.0) / 128.0
    elif width == 4:
        flat = np.frombuffer(raw, dtype="<i4").astype(np.float32) / 2147483648.0
    else:
        raise UndecodableAudioError(f"WAV with {8 * width}-bit samples is not supported")
    return _raw(flat, rate, channels)


def _decode_container(data: bytes) -> Audio:
    chunks = []
    rate = 0
    with av.open(io.BytesIO(data), mode="r") as container:
        if not container.streams.audio:
            raise UndecodableAudioError("the container has no audio stream")
        for frame in container.decode(audio=0):
            rate = frame.sample_rate
            planar = frame.to_ndarray().astype(np.float32)
            if not frame.format.is_planar:
                planar = planar.reshape(-1, len(frame.layout.channels)).T
            chunks.append(planar)
    if not chunks:
        raise UndecodableAudioError("the container holds no audio frames")
    return Audio(np.concatenate(chunks, axis=1), rate)


def silence(like: Audio) -> Audio:
    return Audio(np.zeros_like(like.samples), like.sample_rate_hz)


def tone(like: Audio, frequency_hz: int) -> Audio:
    """A sine at ``frequency_hz``, half of full scale, as long as ``like``, in every channel."""
    times = np.arange(like.frames, dtype=np.float64) / like.sample_rate_hz
    wave_row = (TONE_AMPLITUDE * np.sin(2 * np.pi * frequency_hz * times)).astype(np.float32)
    return Audio(np.tile(wave_row, (like.channels, 1)), like.sample_rate_hz)


def _interpolate(samples: np.ndarray, frames: int) -> np.ndarray:
    """``samples`` resampled in time to ``frames`` frames, linearly."""
    if samples.shape[1] == 0 or frames == 0:
        return np.zeros((samples.shape[0], frames), dtype=np.float32)
    source = np.linspace(0, samples.shape[1] - 1, num=frames)
    positions = np.arange(samples.shape[1])
    return np.vstack([np.interp(source, positions, row) for row in samples]).astype(np.float32)


def stretch(audio: Audio, ratio: float) -> Audio:
    """``audio`` lasting ``ratio`` times as long, at the same rate (pitch moves with it)."""
    return Audio(_interpolate(audio.samples, round(audio.frames * ratio)), audio.sample_rate_hz)


def convert(audio: Audio, sample_rate_hz: int, channels: int) -> Audio:
    """``audio`` at another rate (same duration) and channel count (mixed down or copied)."""
    samples = audio.samples
    if channels != audio.channels:
        mono = samples.mean(axis=0, keepdims=True)
        samples = np.tile(mono, (channels, 1)) if channels > 1 else mono
    if sample_rate_hz != audio.sample_rate_hz:
        frames = round(audio.frames * sample_rate_hz / audio.sample_rate_hz)
        samples = _interpolate(samples, frames)
    return Audio(samples.astype(np.float32), sample_rate_hz)


def encode(audio: Audio, fmt: str) -> Encoded:
    """``audio`` in ``fmt``, with the fields that describe the result (M4A's real duration
    includes the encoder's priming, so it is read back from the encoded bytes)."""
    clipped = np.clip(audio.samples, -1.0, 1.0)
    if fmt == "pcm_s16le":
        data = _interleave(clipped * 32767.0).astype("<i2").tobytes()
    elif fmt == "pcm_f32le":
        data = _interleave(clipped).astype("<f4").tobytes()
    elif fmt == "wav":
        data = _encode_wav(clipped, audio.sample_rate_hz)
    elif fmt == "m4a":
        data = _encode_m4a(clipped, audio.sample_rate_hz)
        decoded = _decode_container(data)
        return Encoded(data, fmt, decoded.sample_rate_hz, audio.channels, decoded.duration_ms)
    else:
        raise ValueError(f"cannot encode format {fmt!r}; one of {', '.join(FORMATS)}")
    return Encoded(data, fmt, audio.sample_rate_hz, audio.channels, audio.duration_ms)


def _interleave(samples: np.ndarray) -> np.ndarray:
    return samples.T.reshape(-1)


def _encode_wav(samples: np.ndarray, sample_rate_hz: int) -> bytes:
    buffer = io.BytesIO()
    with wave.open(buffer, "wb") as writer:
        writer.setnchannels(samples.shape[0])
        writer.setsampwidth(2)
        writer.setframerate(sample_rate_hz)
        writer.writeframes(_interleave(samples * 32767.0).astype("<i2").tobytes())
    return buffer.getvalue()


def _encode_m4a(samples: np.ndarray, sample_rate_hz: int) -> bytes:
    layout = "mono" if samples.shape[0] == 1 else "stereo"
    buffer = io.BytesIO()
    with av.open(buffer, mode="w", format="ipod") as container:
        stream = container.add_stream("aac", rate=sample_rate_hz, layout=layout)
        stream.bit_rate = M4A_BIT_RATE
        frame = av.AudioFrame.from_ndarray(
            np.ascontiguousarray(samples, dtype=np.float32), format="fltp", layout=layout
        )
        frame.sample_rate = sample_rate_hz
        for packet in stream.encode(frame):
            container.mux(packet)
        for packet in stream.encode(None):
            container.mux(packet)
    return buffer.getvalue()
