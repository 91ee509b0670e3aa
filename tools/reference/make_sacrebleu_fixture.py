#!/usr/bin/env python3
"""Writes the BLEU/chrF reference fixture from sacreBLEU (pinned in requirements.txt).

    .venv-reference/bin/python tools/reference/make_sacrebleu_fixture.py [--seed 0] [--out DIR]

DIR defaults to $GLANCE_FIXTURES, else Tests/GlanceAttentionTests/Fixtures. sacrebleu.json holds
corpora of fixed hypotheses and references (hand-written edge cases of the 13a tokenizer:
punctuation, numbers, dashes, entities, accents, empty and repeated lines) plus, per seed, a
corpus of random word salads drawn with Python's random.Random(seed); for each corpus
sacreBLEU's corpus_bleu and corpus_chrf with their defaults (13a, exp smoothing; chrF2, char
order 6) and the tokens of each line.
"""

import os
import random

import sacrebleu
from fixture_io import fixture_arguments, write_json
from sacrebleu.tokenizers.tokenizer_13a import Tokenizer13a

EDGE_CASES = dict(
    hypotheses=[
        "The cat sat on the mat.",
        "In the beginning God created the heaven and the earth .",
        "It costs 3.50 dollars, or 1,000 cents - cheap!",
        "Pages 10-20 (see \"notes\"); x&amp;y &lt;tag&gt; &quot;q&quot;",
        "Y dijo Dios: Sea la luz; y fué la luz.",
        "",
        "a  b   c\tdone  ",
        "¿Qué pasó? ¡Nada!",
        "word word word word",
        "end of the line-\nnext <skipped> line",
    ],
    references=[
        "The cat is on the mat.",
        "In the beginning God created the heavens and the earth.",
        "It costs 3.50 dollars, or 1,000 cents -- cheap !",
        "Pages 10-20 (see 'notes'); x&y <tag> \"q\"",
        "Y dijo Dios: Sea la luz: y fué la luz.",
        "Nothing was said.",
        "a b c done",
        "¿Qué pasó?¡Nada!",
        "word",
        "end of the line next line",
    ],
)

WORDS = "the of and to in that he shall unto for his a they be is him not them it with all thou was which my me".split() + \
        "y de la que el los en a se no por las su con lo le dios para".split() + [".", ",", ";", ":", "?", "3.5", "1,2", "-"]


def salad(rng, count):
    hypotheses, references = [], []
    for _ in range(count):
        reference = [rng.choice(WORDS) for _ in range(rng.randint(1, 15))]
        hypothesis = [w if rng.random() < 0.6 else rng.choice(WORDS) for w in reference]
        if rng.random() < 0.3:
            hypothesis = hypothesis[: rng.randint(0, len(hypothesis))]
        hypotheses.append(" ".join(hypothesis))
        references.append(" ".join(reference))
    return dict(hypotheses=hypotheses, references=references)


def scored(corpus):
    hypotheses, references = corpus["hypotheses"], corpus["references"]
    bleu = sacrebleu.corpus_bleu(hypotheses, [references])
    chrf = sacrebleu.corpus_chrf(hypotheses, [references])
    tokenizer = Tokenizer13a()
    return dict(corpus, bleu=bleu.score, bleu_precisions=bleu.precisions, brevity_penalty=bleu.bp,
                hypothesis_length=bleu.sys_len, reference_length=bleu.ref_len, chrf=chrf.score,
                tokens=[tokenizer(line.rstrip()).split() for line in hypotheses + references])


def main():
    args = fixture_arguments(__doc__)
    corpora = {"edge_cases": scored(EDGE_CASES),
               "one_line": scored(dict(hypotheses=["the the the the"], references=["the cat"])),
               "no_match": scored(dict(hypotheses=["x y z"], references=["a b c"]))}
    for offset in range(3):
        corpora[f"salad_{offset}"] = scored(salad(random.Random(args.seed + offset), 40))
    record = dict(sacrebleu_version=sacrebleu.__version__, seed=args.seed,
                  defaults="corpus_bleu: tokenize 13a, smooth exp, case-sensitive; corpus_chrf: char order 6, beta 2",
                  corpora=corpora)
    path = os.path.join(args.out, "sacrebleu.json")
    write_json(path, record)
    print(f"wrote {path}: " + ", ".join(f"{k} BLEU {v['bleu']:.2f} chrF {v['chrf']:.2f}" for k, v in corpora.items()))


if __name__ == "__main__":
    main()
