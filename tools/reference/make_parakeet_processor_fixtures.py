#!/usr/bin/env python3
"""Writes a Parakeet processor (feature extractor + tokenizer) for the random `parakeet_ctc/`
checkpoint and transformers' end-to-end transcription of one recording with it.

    .venv-reference/bin/python tools/reference/make_parakeet_processor_fixtures.py [--seed 0] [--out DIR]

DIR defaults to $GLANCE_FIXTURES, else Tests/GlanceAttentionTests/Fixtures; `parakeet_ctc/`
(make_parakeet_fixtures.py) and `speech_cards_002.wav` (make_speech_fixtures.py) must be there.
Writes

- `parakeet_ctc_processor/`: what transformers 5.24.0's `ParakeetProcessor.save_pretrained`
  writes for a `ParakeetFeatureExtractor` with 16 mel bins and a `ParakeetTokenizer` over a
  SentencePiece-style Unigram vocabulary of 11 pieces (Metaspace "▁" word boundaries, `<unk>`
  = 0, `<pad>` = 10 = the model's blank), copied beside the checkpoint by the tests;
- `parakeet_ctc_transcribe.safetensors` and `.json`: on speech_cards_002.wav (16-bit samples /
  32768), the processor's `input_features` [1, frames, 16], the model's `logits` [1, T, 11]
  (float32 weights run in float64), the greedy ids and `batch_decode` text, and `decode_cases`:
  id lists (repeats, blanks, `<unk>`, punctuation) with `batch_decode`'s text for each.
"""

import json
import os
import wave

import numpy as np
import torch
import transformers
from fixture_io import fixture_arguments, write_model_cases
from make_longformer_fixtures import softmax_in_input_dtype
from tokenizers import Tokenizer, decoders, models, pre_tokenizers
from transformers import ParakeetFeatureExtractor, ParakeetForCTC, ParakeetProcessor, ParakeetTokenizer

PIECES = ["<unk>", "▁the", "▁a", "s", "t", "▁", "e", "▁cat", "'", ".", "<pad>"]
DECODE_CASES = [
    [1, 1, 10, 7, 3, 3, 10, 10, 3, 9],
    [10, 10, 10],
    [5, 2, 0, 4, 8, 3, 5, 9, 9, 10, 2, 6],
    [4, 10, 4, 1, 7, 10, 8, 6],
]


def main():
    args = fixture_arguments(__doc__)
    assert transformers.__version__ == "5.24.0", f"fixtures are pinned to transformers 5.24.0, found {transformers.__version__}"
    softmax_in_input_dtype()
    torch.manual_seed(args.seed)
    processor = make_processor()
    folder = os.path.join(args.out, "parakeet_ctc_processor")
    processor.save_pretrained(folder)

    model = ParakeetForCTC.from_pretrained(os.path.join(args.out, "parakeet_ctc"), attn_implementation="eager").eval().double()
    assert model.config.vocab_size == len(PIECES) and model.config.pad_token_id == processor.tokenizer.pad_token_id
    with wave.open(os.path.join(args.out, "speech_cards_002.wav")) as w:
        samples = np.frombuffer(w.readframes(w.getnframes()), dtype="<i2").astype(np.float32) / 32768
    inputs = processor(samples, sampling_rate=16000, return_tensors="pt")
    features = inputs.input_features.double()
    with torch.no_grad():
        logits = model(input_features=features, attention_mask=inputs.attention_mask).logits
    ids = logits.argmax(-1)
    text = processor.batch_decode(ids)
    decoded = processor.batch_decode(DECODE_CASES)
    tensors = {"input_features": features, "logits": logits}
    tensors = {k: v.detach().float().contiguous() for k, v in tensors.items()}
    write_model_cases(args.out, "parakeet_ctc_transcribe", tensors, {
        "audio": "speech_cards_002.wav", "checkpoint": "parakeet_ctc", "processor": "parakeet_ctc_processor", "seed": args.seed,
        "ids": ids[0].tolist(), "text": text[0],
        "decode_cases": [{"ids": case, "text": result} for case, result in zip(DECODE_CASES, decoded)],
        "reference": "transformers ParakeetProcessor + ParakeetForCTC (eval, eager): features, logits, argmax ids, batch_decode",
        "dtype": "float32 weights, computed in float64, stored as float32"})
    print(f"wrote {folder} and parakeet_ctc_transcribe: logits {tuple(logits.shape)}, text {text[0]!r}")


def make_processor():
    """A ParakeetProcessor: 16 mel bins, an 11-piece SentencePiece-style Unigram tokenizer."""
    unigram = models.Unigram([(piece, -float(i)) for i, piece in enumerate(PIECES)], unk_id=0, byte_fallback=False)
    backend = Tokenizer(unigram)
    backend.pre_tokenizer = pre_tokenizers.Metaspace(replacement="▁", prepend_scheme="always", split=False)
    backend.decoder = decoders.Metaspace(replacement="▁", prepend_scheme="always", split=False)
    tokenizer = ParakeetTokenizer(tokenizer_object=backend, unk_token="<unk>", pad_token="<pad>")
    extractor = ParakeetFeatureExtractor(feature_size=16)
    return ParakeetProcessor(extractor, tokenizer)


if __name__ == "__main__":
    main()
