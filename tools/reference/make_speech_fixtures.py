#!/usr/bin/env python3
"""Writes the speech front end's reference fixtures: transformers' ParakeetFeatureExtractor on
real recordings, and torch.nn.functional.ctc_loss losses and gradients.

    .venv-reference/bin/python tools/reference/make_speech_fixtures.py [--seed 0] [--out DIR]

DIR defaults to $GLANCE_FIXTURES, else Tests/GlanceAttentionTests/Fixtures. Needs Debian's
pocketsphinx-testdata (/usr/share/pocketsphinx/test/data). Writes:

- speech_cards_002.wav: cards/002.wav ("four queen of clubs", 16-bit mono 16 kHz), copied;
  speech_cards_003_float.wav: cards/003.wav scaled by 0.8, as 32-bit float;
  speech_stereo.wav: 16-bit stereo, left the first 1.5 s of librivox 0880, right of cards/004.
- speech_features_{pcm16,float,stereo}: `output` [1, frames, 80] and `attention_mask` of the
  extractor on the file's mono float32 samples (integers / 32768, stereo by the mean of the
  channels); speech_features_batch: the pcm16 and float signals in one call, `lengths` their
  sample counts. The samples are not stored: the tests read them from the WAV files.
- ctc_*: `logits` [batch, frames, classes], `log_probs` = log_softmax(logits), `labels`
  [batch, longest] (padded with -1), `label_lengths`, `input_lengths`, `losses`
  (reduction="none"), `output` (the configured reduction), `grad.logits` and `grad.log_probs`
  (PyTorch's) of `output`. Computed in float64 from the float32-stored inputs.
"""

import os
import shutil
import struct
import wave

import numpy as np
import torch
import transformers
from fixture_io import run_cases, write_fixture
from transformers import ParakeetFeatureExtractor

DATA = "/usr/share/pocketsphinx/test/data"


def read_pcm16(path, seconds=None):
    with wave.open(path) as w:
        assert w.getsampwidth() == 2 and w.getframerate() == 16000
        frames = w.getnframes() if seconds is None else int(seconds * 16000)
        raw = np.frombuffer(w.readframes(frames), dtype="<i2").reshape(-1, w.getnchannels())
    return raw


def write_float_wav(path, samples):
    data = samples.astype("<f4").tobytes()
    header = b"RIFF" + struct.pack("<I", 36 + len(data)) + b"WAVEfmt " + struct.pack("<IHHIIHH", 16, 3, 1, 16000, 64000, 4, 32)
    with open(path, "wb") as f:
        f.write(header + b"data" + struct.pack("<I", len(data)) + data)


def write_stereo_wav(path, left, right):
    with wave.open(path, "wb") as w:
        w.setnchannels(2)
        w.setsampwidth(2)
        w.setframerate(16000)
        w.writeframes(np.stack([left, right], axis=1).astype("<i2").tobytes())


def speech_signals(out):
    """Writes the three WAV files and returns their mono float32 signals."""
    shutil.copyfile(os.path.join(DATA, "cards/002.wav"), os.path.join(out, "speech_cards_002.wav"))
    pcm16 = read_pcm16(os.path.join(DATA, "cards/002.wav"))[:, 0].astype(np.float32) / np.float32(32768)
    scaled = (read_pcm16(os.path.join(DATA, "cards/003.wav"))[:, 0].astype(np.float32) / np.float32(32768)) * np.float32(0.8)
    write_float_wav(os.path.join(out, "speech_cards_003_float.wav"), scaled)
    left = read_pcm16(os.path.join(DATA, "librivox/sense_and_sensibility_01_austen_64kb-0880.wav"), 1.5)[:, 0]
    right = read_pcm16(os.path.join(DATA, "cards/004.wav"), 1.5)[:, 0]
    write_stereo_wav(os.path.join(out, "speech_stereo.wav"), left, right)
    stereo = np.stack([left, right], axis=1).astype(np.float32) / np.float32(32768)
    return {"pcm16": pcm16, "float": scaled, "stereo": stereo.mean(axis=1, dtype=np.float32)}


def make_feature_fixtures(out):
    extractor = ParakeetFeatureExtractor()
    signals = speech_signals(out)
    config = dict(reference="transformers.ParakeetFeatureExtractor (defaults)", extractor=extractor.to_dict(),
                  torch_version=torch.__version__, transformers_version=transformers.__version__)
    config["extractor"].pop("mel_filters", None)
    for name, signal in signals.items():
        result = extractor(signal, sampling_rate=16000, return_tensors="pt")
        write_fixture(out, f"speech_features_{name}", {
            "output": result.input_features,
            "attention_mask": result.attention_mask.float()}, dict(config, signal=name))
    batch = [signals["pcm16"], signals["float"]]
    result = extractor(batch, sampling_rate=16000, return_tensors="pt")
    write_fixture(out, "speech_features_batch", {
        "lengths": torch.tensor([len(s) for s in batch], dtype=torch.float32),
        "output": result.input_features, "attention_mask": result.attention_mask.float()}, dict(config, signal="pcm16 + float"))


# name -> frames, classes, blank, labels, input lengths, reduction, zero_infinity
CTC_CASES = {
    "ctc_repeats_blank0": dict(frames=12, classes=6, blank=0, reduction="mean", zero_infinity=False,
                               labels=[[1, 1, 2], [3, 4, 4, 4, 5], []], input_lengths=[12, 10, 7]),
    "ctc_blank_last_sum": dict(frames=9, classes=5, blank=4, reduction="sum", zero_infinity=False,
                               labels=[[0, 1, 0, 3], [2, 2], [1]], input_lengths=[9, 4, 1]),
    "ctc_zero_infinity": dict(frames=8, classes=4, blank=2, reduction="mean", zero_infinity=True,
                              labels=[[0, 0, 1, 1, 3], [1, 3, 0], [3, 3, 3]], input_lengths=[6, 8, 4]),
}


def make_ctc_case(name, c, seed, out):
    torch.manual_seed(seed)
    batch = len(c["labels"])
    logits = (2 * torch.randn(batch, c["frames"], c["classes"])).double().requires_grad_()
    log_probs = torch.log_softmax(logits, dim=-1)
    log_probs.retain_grad()
    longest = max(1, max(len(l) for l in c["labels"]))
    labels = torch.full((batch, longest), -1, dtype=torch.long)
    for b, label in enumerate(c["labels"]):
        labels[b, : len(label)] = torch.tensor(label, dtype=torch.long)
    label_lengths = torch.tensor([len(l) for l in c["labels"]])
    input_lengths = torch.tensor(c["input_lengths"])
    concatenated = torch.tensor([t for l in c["labels"] for t in l], dtype=torch.long)
    arguments = dict(blank=c["blank"], zero_infinity=c["zero_infinity"])
    losses = torch.nn.functional.ctc_loss(log_probs.transpose(0, 1), concatenated, input_lengths, label_lengths,
                                          reduction="none", **arguments)
    output = torch.nn.functional.ctc_loss(log_probs.transpose(0, 1), concatenated, input_lengths, label_lengths,
                                          reduction=c["reduction"], **arguments)
    output.backward()
    tensors = {"logits": logits.detach(), "log_probs": log_probs.detach(), "labels": labels.double(),
               "label_lengths": label_lengths.double(), "input_lengths": input_lengths.double(),
               "losses": losses.detach(), "output": output.detach(),
               "grad.logits": logits.grad, "grad.log_probs": log_probs.grad}
    config = dict(c, seed=seed, reference="torch.nn.functional.ctc_loss", dtype="computed in float64, stored as float32",
                  torch_version=torch.__version__)
    write_fixture(out, name, tensors, config)


def make_case(name, case, seed, out):
    if name == "speech_features":
        make_feature_fixtures(out)
    else:
        make_ctc_case(name, case, seed, out)


if __name__ == "__main__":
    run_cases(__doc__, dict(speech_features=None, **CTC_CASES), make_case)
