"""Average the weights of models of one architecture and classes (a "model soup").

    python scripts/average_models.py OUT MODEL MODEL [MODEL ...] [--weights 0.5,0.5] [--no-half]

Meant for models fine-tuned one from another (they lie in one basin of the loss, so their mean
is a model too, usually at least as good as each: Wortsman et al., "Model soups", 2022). The
floating-point tensors are averaged in float32 (BatchNorm statistics included); integer ones
(BatchNorm's batch counters) are taken from the first model. The first model's inference
settings and metadata are kept; the sources are recorded in the training metadata.
"""

from __future__ import annotations

import argparse
import sys

import torch

from deskvision.errors import DeskvisionError
from deskvision.models.io import load_model, save_model


def average(paths: list[str], weights: list[float] | None = None) -> tuple[torch.nn.Module, object, dict]:
    """The weighted mean of the models in `paths` (equal weights by default)."""
    if len(paths) < 2:
        raise DeskvisionError("give at least two models to average")
    weights = weights or [1.0 / len(paths)] * len(paths)
    if len(weights) != len(paths) or abs(sum(weights) - 1) > 1e-6 or min(weights) < 0:
        raise DeskvisionError("--weights: one non-negative weight a model, summing to 1")
    base, config, meta = load_model(paths[0])
    states = [base.state_dict()]
    for p in paths[1:]:
        model, other, _ = load_model(p)
        if (other.arch, other.classes) != (config.arch, config.classes):
            raise DeskvisionError(f"{p}: architecture or classes differ from {paths[0]}")
        states.append(model.state_dict())
    mean = {}
    for k, v in states[0].items():
        if v.is_floating_point():
            mean[k] = sum(w * s[k].float() for w, s in zip(weights, states, strict=True)).to(v.dtype)
        else:
            mean[k] = v
    base.load_state_dict(mean)
    return base, config, meta


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("out")
    p.add_argument("models", nargs="+")
    p.add_argument("--weights", help="comma-separated, one a model, summing to 1 (default: equal)")
    p.add_argument("--no-half", action="store_true", help="store float32 instead of fp16")
    args = p.parse_args()
    try:
        weights = [float(w) for w in args.weights.split(",")] if args.weights else None
        model, config, meta = average(args.models, weights)
    except (DeskvisionError, ValueError) as exc:
        sys.exit(f"error: {exc}")
    training = {"averaged": args.models, "weights": weights or "equal", "first": meta.get("training")}
    save_model(model, config, args.out, training=training, half=not args.no_half)
    print(f"wrote {args.out}: the mean of {len(args.models)} models")


if __name__ == "__main__":
    main()
