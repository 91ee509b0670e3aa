"""Writing reference fixtures in the format of Tests/GlanceAttentionTests/Fixtures/README.md,
and the command line shared by the fixture scripts (--seed, --out, GLANCE_FIXTURES)."""

import argparse
import contextlib
import json
import os

import torch

from safetensors.torch import save_file

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
DEFAULT_OUT = os.path.join(REPO, "Tests", "GlanceAttentionTests", "Fixtures")


def write_fixture(out, name, tensors, config):
    """Saves NAME.safetensors (float32, contiguous) and NAME.json (sorted, indented)."""
    tensors = {k: v.detach().float().contiguous() for k, v in tensors.items()}
    save_file(tensors, os.path.join(out, name + ".safetensors"))
    write_json(os.path.join(out, name + ".json"), config)
    print(f"wrote {name}: output {tuple(tensors['output'].shape)}")


def randomize_weights(model, norm_weight_marker, embedding_marker=None):
    """Redraws every weight of a small fixture model so that a wrong mask, chunk or position
    shows: LayerNorm weights (keys containing `norm_weight_marker`) 1 + N(0, 0.1), biases
    N(0, 0.1), embeddings (keys containing `embedding_marker`, when given) N(0, 1), the rest
    N(0, 0.3), in the order of named_parameters."""
    with torch.no_grad():
        for key, parameter in model.named_parameters():
            if norm_weight_marker in key:
                parameter.copy_(1 + 0.1 * torch.randn_like(parameter))
            elif key.endswith("bias"):
                parameter.normal_(0.0, 0.1)
            elif embedding_marker is not None and embedding_marker in key:
                parameter.normal_(0.0, 1.0)
            else:
                parameter.normal_(0.0, 0.3)


def write_model_cases(out, stem, tensors, record):
    """Saves a model fixture's cases: STEM.safetensors and STEM.json, the record with the
    torch and transformers versions that computed it."""
    import transformers

    save_file(tensors, os.path.join(out, stem + ".safetensors"))
    write_json(os.path.join(out, stem + ".json"),
               dict(record, torch_version=torch.__version__, transformers_version=transformers.__version__))


def write_json(path, record):
    """Writes a fixture's description: sorted keys, indented, with a final newline."""
    with open(path, "w") as f:
        json.dump(record, f, indent=2, sort_keys=True)
        f.write("\n")


@contextlib.contextmanager
def recording_randn():
    """Within the block, torch.randn draws float32-representable values (then cast to the dtype
    asked for) and appends each draw to the list it yields: the LSH rotations that Hugging Face
    Reformer layers draw in a forward pass, kept so that Glance can be given the same ones."""
    drawn, randn = [], torch.randn

    def recording(*args, **kwargs):
        dtype = kwargs.pop("dtype", torch.float32)
        value = randn(*args, **kwargs, dtype=torch.float32).to(dtype)
        drawn.append(value)
        return value

    torch.randn = recording
    try:
        yield drawn
    finally:
        torch.randn = randn


def fixture_arguments(description):
    """Parses the fixture scripts' command line: --seed (default 0) and --out (default
    $GLANCE_FIXTURES, else the fixtures folder), and creates the output folder."""
    parser = argparse.ArgumentParser(description=description, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--out", default=os.environ.get("GLANCE_FIXTURES") or DEFAULT_OUT)
    args = parser.parse_args()
    os.makedirs(args.out, exist_ok=True)
    return args


def run_cases(description, cases, make_case):
    """Parses --seed and --out and calls make_case(name, case, seed + index, out) for each case."""
    args = fixture_arguments(description)
    for index, (name, case) in enumerate(cases.items()):
        make_case(name, case, args.seed + index, args.out)
