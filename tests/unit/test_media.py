"""Section 13's audio building blocks, checked on the signal, not only its shape."""

from __future__ import annotations

import io
import wave

import av
import numpy as np
import pytest

from echosts import media

RATE = 48_000


def seconds(duration_s: float, channels: int = 2, rate: int = RATE) -> media.Audio:
    """A recognisable signal: a 220 Hz sine, a little quieter in the second channel."""
    times = np.arange(round(duration_s * rate)) / rate
    row = 0.3 * np.sin(2 * np.pi * 220 * times)
    rows = [row * (1 - 0.2 * index) for index in range(channels)]
    return media.Audio(np.vstack(rows).astype(np.float32), rate)


def dominant_hz(audio: media.Audio) -> float:
    spectrum = np.abs(np.fft.rfft(audio.samples[0]))
    return float(np.argmax(spectrum) * audio.sample_rate_hz / audio.frames)


def test_silence_is_all_zeros_and_as_long() -> None:
    source = seconds(1.5)
    quiet = media.silence(source)
    assert quiet.frames == source.frames
    assert not quiet.samples.any()


@pytest.mark.parametrize("frequency_hz", [100, 440, 1000, 5000])
def test_a_tone_has_its_frequency_within_two_per_cent(frequency_hz: int) -> None:
    sound = media.tone(seconds(1.0), frequency_hz)
    assert abs(dominant_hz(sound) - frequency_hz) <= 0.02 * frequency_hz
    assert np.max(np.abs(sound.samples)) == pytest.approx(media.TONE_AMPLITUDE, rel=1e-3)


@pytest.mark.parametrize("ratio", [0.25, 0.8, 1.0, 1.2, 4.0])
def test_a_stretch_scales_samples_and_duration_by_the_ratio(ratio: float) -> None:
    source = seconds(2.0)
    stretched = media.stretch(source, ratio)
    assert abs(stretched.frames - source.frames * ratio) <= 1
    assert stretched.sample_rate_hz == source.sample_rate_hz
    assert stretched.duration_ms == pytest.approx(2000 * ratio, abs=1)


def test_a_stretch_keeps_a_recognisable_signal() -> None:
    stretched = media.stretch(seconds(1.0), 2.0)
    assert dominant_hz(stretched) == pytest.approx(110, rel=0.02)


@pytest.mark.parametrize(("fmt", "width"), [("pcm_s16le", 2), ("pcm_f32le", 4)])
@pytest.mark.parametrize(("rate", "channels"), [(16_000, 1), (48_000, 2), (44_100, 2)])
def test_a_format_change_has_consistent_fields_and_byte_length(
    fmt: str, width: int, rate: int, channels: int
) -> None:
    converted = media.convert(seconds(0.5), rate, channels)
    encoded = media.encode(converted, fmt)
    assert (encoded.format, encoded.sample_rate_hz, encoded.channels) == (fmt, rate, channels)
    assert len(encoded.data) == converted.frames * channels * width
    assert encoded.duration_ms == 500


def test_raw_pcm_decodes_back_to_its_samples() -> None:
    source = seconds(0.1)
    encoded = media.encode(source, "pcm_s16le")
    decoded = media.decode(encoded.data, "pcm_s16le", RATE, 2)
    assert np.allclose(decoded.samples, source.samples, atol=1 / 16_000)


def test_wav_output_is_read_back_by_the_wave_module() -> None:
    encoded = media.encode(media.convert(seconds(0.25), 22_050, 1), "wav")
    with wave.open(io.BytesIO(encoded.data)) as reader:
        assert (reader.getframerate(), reader.getnchannels(), reader.getsampwidth()) == (
            22_050,
            1,
            2,
        )
        assert reader.getnframes() == round(0.25 * 22_050)
    assert media.decode(encoded.data, "wav", 0, 0).frames == round(0.25 * 22_050)


def m4a(audio: media.Audio) -> bytes:
    return media.encode(audio, "m4a").data


def test_an_m4a_stretched_and_reencoded_lasts_the_ratio_with_its_announced_fields() -> None:
    received = media.decode(m4a(seconds(6.0)), "m4a", 0, 0)
    dubbed = media.encode(media.convert(media.stretch(received, 1.2), 44_100, 1), "m4a")
    with av.open(io.BytesIO(dubbed.data)) as container:
        stream = container.streams.audio[0]
        frames = sum(frame.samples for frame in container.decode(stream))
        assert (stream.sample_rate, stream.codec_context.channels) == (44_100, 1)
    assert abs(frames / 44_100 * 1000 - received.duration_ms * 1.2) <= 60
    assert (dubbed.sample_rate_hz, dubbed.channels) == (44_100, 1)
    assert abs(dubbed.duration_ms - frames / 44_100 * 1000) <= 1


@pytest.mark.parametrize(
    ("data", "fmt", "channels"),
    [
        (b"not an mp4 at all", "m4a", 2),
        (b"RIFF....WAVE", "wav", 2),
        (b"\x00\x01\x02", "pcm_s16le", 2),
        (b"\x00" * 6, "pcm_f32le", 1),
        (b"\x00" * 8, "flac", 1),
    ],
)
def test_undecodable_audio_is_refused_with_a_reason(data: bytes, fmt: str, channels: int) -> None:
    with pytest.raises(media.UndecodableAudioError, match=fmt):
        media.decode(data, fmt, RATE, channels)
