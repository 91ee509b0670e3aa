#!/usr/bin/env python3
"""PyTorch twin of Glance's byte-level language model (`glance train`).

Reads the same JSON config as `glance train --config FILE` and trains the same
pre-LN decoder on the same corpus with the same hyperparameters, schedule and
initialisation scheme. Random streams (init, batch offsets, dropout) come from
torch's generators seeded with training.seed, so they are not bit-identical to
Glance's; compare the curves statistically.

    char_lm.py --config FILE [--steps N] [--threads 2] [--out run.jsonl]

JSON lines on stdout (and in --out):
  first:               {"event": "start", "parameters", "threads", "torch_version", "config"}
  every log_every:     {"step", "loss", "bpc", "tokens_per_s", "lr"}
                       (loss of that step's batch; tokens/s over the steps since the previous log)
  every eval_every
  and at the end:      {"step", "val_loss", "val_bpc"}
  summary (last):      {"final_val_bpc", "train_tokens_per_s", "steps", "seconds"}
                       (train_tokens_per_s = tokens / time over steps 11..N, evaluation excluded;
                        seconds = whole run wall time including evaluation)
"""

import argparse
import copy
import json
import math
import os
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from common import JsonLines, fail, import_torch, positive_int  # noqa: E402

# Defaults of the shared config schema. None marks a required field.
DEFAULTS = {
    "model": {
        "vocab_size": 256,
        "context": 256,
        "layers": 4,
        "d_model": 256,
        "heads": 4,
        "ffn_multiplier": 4,
        "activation": "gelu",
        "dropout": 0.0,
        "attention": "full",
        "positions": "learned",
    },
    "training": {
        "batch_size": 32,
        "steps": 2000,
        "learning_rate": 0.001,
        "warmup_steps": 100,
        "min_lr_ratio": 0.1,
        "weight_decay": 0.1,
        "beta1": 0.9,
        "beta2": 0.99,
        "epsilon": 1e-8,
        "grad_clip": 1.0,
        "seed": 1234,
        "log_every": 10,
        "eval_every": 250,
        "eval_windows": 64,
        "checkpoint_every": 500,
    },
    "data": {"corpus": None},
    "output": "runs/charlm",
}

INT_FIELDS = {
    "vocab_size", "context", "layers", "d_model", "heads", "ffn_multiplier",
    "batch_size", "steps", "warmup_steps", "seed", "log_every", "eval_every",
    "eval_windows", "checkpoint_every",
}
CHOICES = {
    "activation": ("gelu", "relu", "silu"),
    "attention": ("full",),
    "positions": ("learned", "sinusoidal"),
}


def load_config(path):
    """Loads the config, filling defaults; unknown keys and bad types are errors."""
    try:
        with open(path) as f:
            raw = json.load(f)
    except (OSError, json.JSONDecodeError) as error:
        fail(f"cannot read config {path}: {error}")
    if not isinstance(raw, dict):
        fail("config must be a JSON object")
    config = copy.deepcopy(DEFAULTS)
    for key, value in raw.items():
        if key not in DEFAULTS:
            fail(f"unknown config key '{key}' (expected one of {sorted(DEFAULTS)})")
        if isinstance(DEFAULTS[key], dict):
            if not isinstance(value, dict):
                fail(f"config '{key}' must be an object")
            for sub, subvalue in value.items():
                if sub not in DEFAULTS[key]:
                    fail(f"unknown config key '{key}.{sub}' (expected one of {sorted(DEFAULTS[key])})")
                config[key][sub] = check_value(f"{key}.{sub}", sub, subvalue)
        else:
            if not isinstance(value, str):
                fail(f"config '{key}' must be a string")
            config[key] = value
    if not isinstance(config["data"]["corpus"], str):
        fail("config 'data.corpus' is required")
    m = config["model"]
    if m["d_model"] % m["heads"] != 0:
        fail("model.d_model must be divisible by model.heads")
    if m["vocab_size"] > 256 or m["vocab_size"] < 1:
        fail("model.vocab_size must be in 1...256 (byte-level)")
    if not 0.0 <= m["dropout"] < 1.0:
        fail("model.dropout must be in [0, 1)")
    return config


def check_value(name, key, value):
    if key in INT_FIELDS:
        if isinstance(value, bool) or not isinstance(value, int):
            fail(f"config '{name}' must be an integer")
        if value < (0 if key in ("warmup_steps", "seed") else 1):
            fail(f"config '{name}' out of range: {value}")
    elif key in CHOICES:
        if value not in CHOICES[key]:
            fail(f"config '{name}' must be one of {list(CHOICES[key])}, got {value!r}")
    elif key == "corpus":
        if not isinstance(value, str):
            fail(f"config '{name}' must be a string")
    else:
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            fail(f"config '{name}' must be a number")
        value = float(value)
        if value < 0:
            fail(f"config '{name}' must be >= 0")
    return value


def build_model(torch, m, context_positions):
    nn = torch.nn
    F = torch.nn.functional
    d, heads, layers = m["d_model"], m["heads"], m["layers"]
    head_dim = d // heads
    hidden = m["ffn_multiplier"] * d
    activation = {"gelu": nn.GELU, "relu": nn.ReLU, "silu": nn.SiLU}[m["activation"]]
    residual_std = 0.02 / math.sqrt(2 * layers)

    class Attention(nn.Module):
        def __init__(self):
            super().__init__()
            self.q = nn.Linear(d, d)
            self.k = nn.Linear(d, d)
            self.v = nn.Linear(d, d)
            self.out = nn.Linear(d, d)
            self.out.residual_projection = True

        def forward(self, x):
            b, n, _ = x.shape

            def split(t):
                return t.view(b, n, heads, head_dim).transpose(1, 2)

            y = F.scaled_dot_product_attention(split(self.q(x)), split(self.k(x)), split(self.v(x)), is_causal=True)
            return self.out(y.transpose(1, 2).reshape(b, n, d))

    class Block(nn.Module):
        def __init__(self):
            super().__init__()
            self.ln1 = nn.LayerNorm(d, eps=1e-5)
            self.attn = Attention()
            self.ln2 = nn.LayerNorm(d, eps=1e-5)
            self.fc1 = nn.Linear(d, hidden)
            self.act = activation()
            self.fc2 = nn.Linear(hidden, d)
            self.fc2.residual_projection = True
            self.drop = nn.Dropout(m["dropout"])

        def forward(self, x):
            x = x + self.drop(self.attn(self.ln1(x)))
            return x + self.drop(self.fc2(self.act(self.fc1(self.ln2(x)))))

    class CharLM(nn.Module):
        def __init__(self):
            super().__init__()
            self.tokens = nn.Embedding(m["vocab_size"], d)
            if m["positions"] == "learned":
                self.positions = nn.Parameter(torch.empty(context_positions, d))
            else:
                pos = torch.arange(context_positions, dtype=torch.float64).unsqueeze(1)
                even = torch.arange(0, d, 2, dtype=torch.float64)
                angle = pos / torch.pow(10000.0, even / d)
                table = torch.zeros(context_positions, d, dtype=torch.float64)
                table[:, 0::2] = torch.sin(angle)
                table[:, 1::2] = torch.cos(angle[:, : d // 2])
                self.register_buffer("positions", table.float())
            self.drop = nn.Dropout(m["dropout"])
            self.blocks = nn.ModuleList(Block() for _ in range(layers))
            self.ln_f = nn.LayerNorm(d, eps=1e-5)
            self.head = nn.Linear(d, m["vocab_size"])
            self.reset_parameters()

        def reset_parameters(self):
            for module in self.modules():
                if isinstance(module, nn.Linear):
                    std = residual_std if getattr(module, "residual_projection", False) else 0.02
                    nn.init.normal_(module.weight, 0.0, std)
                    nn.init.zeros_(module.bias)
                elif isinstance(module, nn.Embedding):
                    nn.init.normal_(module.weight, 0.0, 0.02)
                elif isinstance(module, nn.LayerNorm):
                    nn.init.ones_(module.weight)
                    nn.init.zeros_(module.bias)
            if isinstance(self.positions, nn.Parameter):
                nn.init.normal_(self.positions, 0.0, 0.02)

        def forward(self, idx):
            n = idx.shape[1]
            x = self.drop(self.tokens(idx) + self.positions[:n])
            for block in self.blocks:
                x = block(x)
            return self.head(self.ln_f(x))

    return CharLM()


def learning_rate(step, t):
    """LR for 0-based `step`: linear warm-up, then cosine to lr*min_lr_ratio at the last step."""
    lr, warmup, total = t["learning_rate"], t["warmup_steps"], t["steps"]
    if step < warmup:
        return lr * (step + 1) / warmup
    span = total - 1 - warmup
    progress = 1.0 if span <= 0 else min(1.0, (step - warmup) / span)
    floor = lr * t["min_lr_ratio"]
    return floor + (lr - floor) * 0.5 * (1.0 + math.cos(math.pi * progress))


def read_split(torch, corpus, name):
    path = os.path.join(corpus, f"{name}.txt")
    try:
        with open(path, "rb") as f:
            data = f.read()
    except OSError as error:
        fail(f"cannot read {path}: {error}")
    return torch.frombuffer(bytearray(data), dtype=torch.uint8).to(torch.int64)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--config", required=True)
    parser.add_argument("--steps", type=positive_int, help="override training.steps (the LR schedule follows it)")
    parser.add_argument("--threads", type=positive_int, default=2)
    parser.add_argument("--out", help="also write the JSON lines to this file")
    args = parser.parse_args(argv)

    config = load_config(args.config)
    if args.steps is not None:
        config["training"]["steps"] = args.steps
    m, t = config["model"], config["training"]
    ctx, batch, steps = m["context"], t["batch_size"], t["steps"]

    torch = import_torch(args.threads)
    F = torch.nn.functional
    log = JsonLines(args.out)

    train = read_split(torch, config["data"]["corpus"], "train")
    valid = read_split(torch, config["data"]["corpus"], "valid")
    if len(train) < ctx + 2:
        fail("train.txt is shorter than one context window")
    if int(train.max()) >= m["vocab_size"] or int(valid.max()) >= m["vocab_size"]:
        fail("corpus contains byte values >= model.vocab_size")
    eval_windows = min(t["eval_windows"], (len(valid) - 1) // ctx)
    if eval_windows < 1:
        fail("valid.txt is shorter than one context window")
    if eval_windows < t["eval_windows"]:
        print(f"warning: valid.txt holds only {eval_windows} windows", file=sys.stderr)

    torch.manual_seed(t["seed"])
    model = build_model(torch, m, ctx)
    batch_gen = torch.Generator().manual_seed(t["seed"])

    decay = [p for p in model.parameters() if p.dim() >= 2]
    no_decay = [p for p in model.parameters() if p.dim() < 2]
    optimizer = torch.optim.AdamW(
        [{"params": decay, "weight_decay": t["weight_decay"]}, {"params": no_decay, "weight_decay": 0.0}],
        lr=t["learning_rate"], betas=(t["beta1"], t["beta2"]), eps=t["epsilon"],
    )
    parameters = sum(p.numel() for p in model.parameters())
    log.emit({"event": "start", "parameters": parameters, "threads": torch.get_num_threads(),
              "torch_version": torch.__version__, "config": config})

    offsets_range = torch.arange(ctx + 1)

    def evaluate():
        model.eval()
        total, count = 0.0, 0
        with torch.no_grad():
            for start in range(0, eval_windows, batch):
                ids = torch.arange(start, min(start + batch, eval_windows)).unsqueeze(1) * ctx + offsets_range
                chunk = valid[ids]
                logits = model(chunk[:, :-1])
                total += F.cross_entropy(logits.reshape(-1, logits.shape[-1]), chunk[:, 1:].reshape(-1),
                                         reduction="sum").item()
                count += chunk[:, 1:].numel()
        model.train()
        return total / count

    def emit_eval(step):
        val_loss = evaluate()
        log.emit({"step": step, "val_loss": round(val_loss, 6), "val_bpc": round(val_loss / math.log(2), 6)})
        return val_loss

    run_start = time.perf_counter()
    steady_tokens, steady_seconds = 0, 0.0
    interval_tokens, interval_seconds = 0, 0.0
    all_tokens, all_seconds = 0, 0.0
    val_loss = None
    model.train()
    for step in range(steps):
        step_start = time.perf_counter()
        lr = learning_rate(step, t)
        for group in optimizer.param_groups:
            group["lr"] = lr
        offsets = torch.randint(0, len(train) - ctx, (batch,), generator=batch_gen)
        chunk = train[offsets.unsqueeze(1) + offsets_range]
        x, y = chunk[:, :-1], chunk[:, 1:]
        logits = model(x)
        loss = F.cross_entropy(logits.reshape(-1, logits.shape[-1]), y.reshape(-1))
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        if t["grad_clip"] > 0:
            torch.nn.utils.clip_grad_norm_(model.parameters(), t["grad_clip"])
        optimizer.step()
        loss_value = loss.item()
        elapsed = time.perf_counter() - step_start

        tokens = batch * ctx
        interval_tokens += tokens
        interval_seconds += elapsed
        all_tokens += tokens
        all_seconds += elapsed
        if step >= 10:
            steady_tokens += tokens
            steady_seconds += elapsed
        done = step + 1
        if done % t["log_every"] == 0:
            log.emit({"step": done, "loss": round(loss_value, 6), "bpc": round(loss_value / math.log(2), 6),
                      "tokens_per_s": round(interval_tokens / interval_seconds, 1), "lr": lr})
            interval_tokens, interval_seconds = 0, 0.0
        if done % t["eval_every"] == 0 or done == steps:
            val_loss = emit_eval(done)

    if steady_seconds == 0:  # fewer than 11 steps: use all of them
        steady_tokens, steady_seconds = all_tokens, all_seconds
    log.emit({
        "final_val_bpc": round(val_loss / math.log(2), 6),
        "final_val_loss": round(val_loss, 6),
        "train_tokens_per_s": round(steady_tokens / steady_seconds, 1),
        "steps": steps,
        "seconds": round(time.perf_counter() - run_start, 3),
    })
    log.close()


if __name__ == "__main__":
    main()
