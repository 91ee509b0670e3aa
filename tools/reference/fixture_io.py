"""Writing reference fixtures in the format of Tests/GlanceAttentionTests/Fixtures/README.md,
and the command line shared by the fixture scripts (--seed, --out, GLANCE_FIXTURES)."""

import argparse
import json
import os

from safetensors.torch import save_file

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
DEFAULT_OUT = os.path.join(REPO, "Tests", "GlanceAttentionTests", "Fixtures")


def write_fixture(out, name, tensors, config):
    """Saves NAME.safetensors (float32, contiguous) and NAME.json (sorted, indented)."""
    tensors = {k: v.detach().float().contiguous() for k, v in tensors.items()}
    save_file(tensors, os.path.join(out, name + ".safetensors"))
    with open(os.path.join(out, name + ".json"), "w") as f:
        json.dump(config, f, indent=2, sort_keys=True)
        f.write("\n")
    print(f"wrote {name}: output {tuple(tensors['output'].shape)}")


def run_cases(description, cases, make_case):
    """Parses --seed and --out and calls make_case(name, case, seed + index, out) for each case."""
    parser = argparse.ArgumentParser(description=description, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--out", default=os.environ.get("GLANCE_FIXTURES") or DEFAULT_OUT)
    args = parser.parse_args()
    os.makedirs(args.out, exist_ok=True)
    for index, (name, case) in enumerate(cases.items()):
        make_case(name, case, args.seed + index, args.out)
