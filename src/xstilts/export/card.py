"""The model card (README.md) of an exported model, from what the store and the run recorded.

Everything in it is read, not assumed: the run's settings and metrics from the study's store,
the intermediate tasks from the parent run's settings, task descriptions from the registry and
data terms from :mod:`xstilts.export.sources`. What xstilts does not know is said to be unknown.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

import yaml

from xstilts.export.sources import data_terms, dataset_id
from xstilts.tasks.base import TaskType

PIPELINE_TAGS = {"AutoModelForTokenClassification": "token-classification",
                 "AutoModelForQuestionAnswering": "question-answering",
                 "AutoModel": "feature-extraction"}


@dataclass
class CardFacts:
    """What the card states; gathered by :mod:`xstilts.export.model_export`."""

    run_id: str
    kind: str  # "target" or "intermediate"
    settings: dict[str, Any]
    encoder: str
    base_model: str | None
    auto_class: str
    pooling: str
    max_seq_length: int
    task: str | None = None  # the target task (None for a phase-2 encoder)
    task_type: str | None = None
    task_description: str = ""
    labels: tuple[str, ...] = ()
    intermediate: list[dict[str, Any]] = field(default_factory=list)  # phase-2 tasks
    intermediate_run: str | None = None
    metrics: list[dict[str, Any]] = field(default_factory=list)  # store rows
    head_class: str = ""
    head_reason: str = ""
    probe_max_diff: float | None = None
    license: str = "other"
    descriptions: dict[str, str] = field(default_factory=dict)  # task -> registry text


def _languages(facts: CardFacts) -> list[str]:
    found = [r["language"] for r in facts.metrics]
    found += [facts.settings.get("train_language", "")]
    found += [t.get("language", "") for t in facts.intermediate]
    return sorted({code.split("-")[0] for code in found if code})


def _front_matter(facts: CardFacts) -> str:
    tasks = [t["task"] for t in facts.intermediate] + ([facts.task] if facts.task else [])
    meta: dict[str, Any] = {
        "language": _languages(facts),
        "license": facts.license,
        "library_name": "transformers",
        "pipeline_tag": PIPELINE_TAGS.get(facts.auto_class, "feature-extraction"),
        "tags": ["xstilts", "zero-shot-cross-lingual-transfer", *dict.fromkeys(tasks)],
    }
    if facts.base_model:
        meta["base_model"] = facts.base_model
    datasets = [d for d in dict.fromkeys(dataset_id(t) for t in tasks) if d]
    if datasets:
        meta["datasets"] = datasets
    return "---\n" + yaml.safe_dump(meta, sort_keys=False, allow_unicode=True) + "---\n"


def _usage(facts: CardFacts) -> str:
    length = facts.max_seq_length
    if facts.auto_class == "AutoModelForTokenClassification":
        return f"""```python
import torch
from transformers import AutoModelForTokenClassification, AutoTokenizer

model = AutoModelForTokenClassification.from_pretrained("PATH").eval()
tokenizer = AutoTokenizer.from_pretrained("PATH")
words = ["Angela", "Merkel", "visited", "Paris", "."]
batch = tokenizer(words, is_split_into_words=True, truncation=True, max_length={length},
                  return_tensors="pt")
with torch.no_grad():
    tags = model(**batch).logits[0].argmax(-1).tolist()
# xstilts labels a word by its first sub-token:
seen = set()
for position, word in enumerate(batch.word_ids()):
    if word is not None and word not in seen:
        seen.add(word)
        print(words[word], model.config.id2label[tags[position]])
```"""
    if facts.auto_class == "AutoModelForQuestionAnswering":
        return f"""```python
from transformers import pipeline

qa = pipeline("question-answering", model="PATH", tokenizer="PATH")
print(qa(question="Where is the cat?", context="The cat sleeps on the mat.",
         max_seq_len={length}))
```
xstilts decodes spans inside each window of the context (stride and answer-length limits from
its featurisation); the pipeline's decoding may pick a different span from the same logits."""
    return _encoder_usage(facts)


_POOL = {"mean": "(hidden * mask).sum(1) / mask.sum(1).clamp(min=1)", "cls": "hidden[:, 0]"}


def _encoder_usage(facts: CardFacts) -> str:
    pool = _POOL.get(facts.pooling, _POOL["mean"])
    prelude = f"""```python
import torch
from safetensors.torch import load_file
from transformers import AutoModel, AutoTokenizer

encoder = AutoModel.from_pretrained("PATH").eval()
tokenizer = AutoTokenizer.from_pretrained("PATH")

def embed(first, second=None):
    batch = tokenizer(first, second, truncation=True, max_length={facts.max_seq_length},
                      padding=True, return_tensors="pt")
    with torch.no_grad():
        hidden = encoder(**batch).last_hidden_state
    mask = batch["attention_mask"].unsqueeze(-1).to(hidden.dtype)
    return {pool}  # {facts.pooling} pooling
"""
    head = facts.head_class
    if head == "ClassificationHead":
        body = """
head = load_file("PATH/xstilts_head.safetensors")
logits = embed(["premise ..."], ["hypothesis ..."]) @ head["out.weight"].T + head["out.bias"]
label = encoder.config.id2label[int(logits.argmax(-1)[0])]
```"""
    elif head == "RegressionHead":
        body = """
head = load_file("PATH/xstilts_head.safetensors")
score = (embed(["text a"], ["text b"]) @ head["out.weight"].T + head["out.bias"]).squeeze(-1)
score = score * 5.0  # xstilts trains on score / 5 (SCORE_SCALE); see xstilts_head.json
```"""
    elif head == "MultipleChoiceHead":
        body = """
head = load_file("PATH/xstilts_head.safetensors")
context, choices = "The man broke his toe. What was the CAUSE?", ["He dropped a hammer.", "..."]
scores = (embed([context] * len(choices), choices) @ head["out.weight"].T + head["out.bias"])
best = int(scores.squeeze(-1).argmax())
```"""
    elif head == "SiameseClassificationHead":
        body = """
head = load_file("PATH/xstilts_head.safetensors")
u, v = embed(["text a"]), embed(["text b"])
logits = torch.cat([u, v, (u - v).abs()], -1) @ head["out.weight"].T + head["out.bias"]
```"""
    elif head == "SiameseCosineHead" or not head:
        body = """
u, v = embed(["a sentence"]), embed(["eine Übersetzung"])
similarity = torch.nn.functional.cosine_similarity(u, v)
```"""
    else:
        body = f"""```
The head ({head}) is specific to its xstilts task type: its tensors are in
xstilts_head.safetensors and its description in xstilts_head.json.
```"""
        return prelude + "```\n" + body
    return prelude + body


def _metrics_table(facts: CardFacts) -> str:
    if not facts.metrics:
        return "No metrics are stored for this run."
    confidence = facts.settings.get("evaluation", {}).get("confidence", 0.95)
    lines = [f"| language | split | metric | value | {confidence:.0%} interval | n |",
             "|---|---|---|---|---|---|"]
    for r in sorted(facts.metrics, key=lambda r: (r["split"], r["language"], r["metric"])):
        low, high = r.get("ci_low"), r.get("ci_high")
        interval = "unknown" if low is None or high is None else f"[{low:.4f}, {high:.4f}]"
        lines.append(f"| {r['language']} | {r['split']} | {r['metric']} | {r['value']:.4f} | "
                     f"{interval} | {r.get('n') if r.get('n') is not None else 'unknown'} |")
    return "\n".join(lines)


def _settings_table(settings: dict[str, Any]) -> str:
    lines = ["| setting | value |", "|---|---|"]
    for key, value in sorted(settings.items()):
        text = value if isinstance(value, str) else json.dumps(value, sort_keys=True)
        lines.append(f"| {key} | `{text}` |")
    return "\n".join(lines)


def _sources(facts: CardFacts) -> str:
    tasks = [t["task"] for t in facts.intermediate] + ([facts.task] if facts.task else [])
    lines = ["| task | description | terms |", "|---|---|---|"]
    for task in dict.fromkeys(tasks):
        description = facts.descriptions.get(task) or "unknown"
        lines.append(f"| {task} | {description} | {data_terms(task)} |")
    return "\n".join(lines) if tasks else "No task data (an untrained encoder)."


def _layout(facts: CardFacts) -> str:
    if facts.auto_class != "AutoModel":
        check = ("" if facts.probe_max_diff is None else
                 f" At export, its logits matched xstilts' own forward within "
                 f"{facts.probe_max_diff:.2g} on probe inputs.")
        return (f"A standard `{facts.auto_class}` folder: `transformers` loads it without "
                f"xstilts.{check}")
    if facts.head_class:
        return ("The encoder as a standard `AutoModel` folder, plus the task head's weights "
                "in `xstilts_head.safetensors` (described in `xstilts_head.json`). Why not "
                f"an Auto class with the head: {facts.head_reason}. The lines below apply "
                "the head with `transformers` and `torch` alone.")
    return ("The encoder as a standard `AutoModel` folder (no task head: "
            f"{'a phase-2 encoder' if facts.kind == 'intermediate' else 'the task has none'}"
            f"). xstilts pools it by **{facts.pooling}** pooling.")


def model_card(facts: CardFacts) -> str:
    """The README.md text: YAML front matter, then the sections a reader of the Hub expects."""
    title = (f"{facts.task} ({facts.encoder}, xstilts run {facts.run_id})" if facts.task
             else f"{facts.encoder} after intermediate training (xstilts run {facts.run_id})")
    inter = ", ".join(f"{t['task']} ({t.get('language', '?')}, {t.get('train_split', '?')})"
                      for t in facts.intermediate) or "none"
    target = ("none (a phase-2 encoder)" if not facts.task else
              f"{facts.task} ({facts.task_type}), trained on "
              f"{facts.settings.get('train_language', '?')} "
              f"{facts.settings.get('train_split', '?')}; "
              f"evaluated zero-shot on {facts.settings.get('eval_split', '?')}")
    labels = (f"\n- labels: {', '.join(facts.labels)}" if facts.labels
              and facts.task_type != TaskType.REGRESSION else "")
    parent = f" (run {facts.intermediate_run})" if facts.intermediate_run else ""
    return f"""{_front_matter(facts)}
# {title}

Exported by `xstilts export-model` from run `{facts.run_id}`.

## Model

- encoder: `{facts.encoder}`{f' (base model: `{facts.base_model}`)' if facts.base_model
                                else ''}
- intermediate task(s){parent}: {inter}
- target task: {target}{labels}
- pooling: {facts.pooling}; maximum input length: {facts.max_seq_length} tokens

{_layout(facts)}

## How to use

Replace `PATH` with this folder (or its Hub id).

{_usage(facts)}

## Zero-shot results

Stored by the study (value with its bootstrap interval, n examples).

{_metrics_table(facts)}

## Training settings

{_settings_table(facts.settings)}

## Data sources and licenses

{_sources(facts)}

The model's own license is `{facts.license}`: it is not inferred from the data and the
encoder; check the terms above (and the base model's) before redistributing it.
"""
