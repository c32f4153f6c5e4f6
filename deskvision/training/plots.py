"""Loss and metric curves per epoch, one panel per loss component (like the article's figures)."""

from __future__ import annotations

from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
from matplotlib.ticker import MaxNLocator  # noqa: E402

LOSS_KEYS = ("loss", "loss_classifier", "loss_box_reg", "loss_objectness", "loss_rpn_box_reg")


def plot_history(history: list[dict], path: str | Path) -> None:
    if not history:
        return
    epochs = [h["epoch"] for h in history]
    keys = [k for k in LOSS_KEYS if k in history[0]] + [
        k for k in ("val_map50", "val_map") if any(h.get(k) is not None for h in history)
    ]
    fig, axes = plt.subplots(1, len(keys), figsize=(3.2 * len(keys), 3), squeeze=False)
    for ax, key in zip(axes[0], keys, strict=True):
        ax.plot(epochs, [h.get(key) for h in history], marker="o", ms=3)
        ax.set_title(key)
        ax.set_xlabel("epoch")
        ax.xaxis.set_major_locator(MaxNLocator(integer=True))  # no "epoch 1.25"
        ax.grid(alpha=0.3)
    fig.tight_layout()
    tmp = Path(path).with_suffix(".tmp.png")
    fig.savefig(tmp, dpi=90)
    plt.close(fig)
    tmp.replace(path)
