"""A kept xstilts model as a standard Hugging Face model, where the math allows.

Why two layouts: the HF ``...ForTokenClassification`` and ``...ForQuestionAnswering`` heads are
a linear layer over every token state (dropout aside), exactly xstilts' tagging and span
heads, so those export as the Auto class and ``transformers`` alone reproduces the logits.
The HF sequence-classification and multiple-choice heads read ``tanh(dense(CLS))`` (BERT's
pooler; XLM-R's classification head likewise), while xstilts' pooled heads read the mean (or
the first) token state straight into a linear layer: no weights in the HF layout compute
that, so those models export as the encoder (``AutoModel``) plus the head's weights in
``xstilts_head.safetensors``, with the few lines of torch that apply it in the model card.
Every Auto-class export is checked against the xstilts forward on probe inputs before it is
written, so a head that does not compute the same function is refused, never written.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import nn
from transformers import (
    AutoModelForQuestionAnswering,
    AutoModelForTokenClassification,
    PreTrainedModel,
    PreTrainedTokenizerBase,
)

from xstilts.errors import XstiltsError
from xstilts.tasks.base import Task, TaskType

# Auto-class exports whose logits differ from xstilts' by more than this are refused (both
# run the same float32 ops on the same weights; the observed difference is 0 or ~1e-6).
PROBE_TOLERANCE = 1e-4
PROBE_TEXTS = ("The cat sat on the mat .", "Der Hund schläft unter dem Tisch , nicht wahr ?",
               "短い文")

AUTO_CLASSES: dict[str, tuple[type, str]] = {
    TaskType.TAGGING: (AutoModelForTokenClassification, "AutoModelForTokenClassification"),
    TaskType.EXTRACTIVE_QA: (AutoModelForQuestionAnswering, "AutoModelForQuestionAnswering"),
}
# Why the pooled task types are not exported as their Auto class (named in the card).
POOLED_REASON = ("transformers' {auto} applies the pooler tanh(dense(first token)) before its "
                 "classifier; xstilts' head applies a linear layer to the {pooling}-pooled "
                 "last hidden states, which no weights in that layout reproduce")
POOLED_AUTO = {TaskType.CLASSIFICATION: "AutoModelForSequenceClassification",
               TaskType.PAIR_CLASSIFICATION: "AutoModelForSequenceClassification",
               TaskType.REGRESSION: "AutoModelForSequenceClassification",
               TaskType.MULTIPLE_CHOICE: "AutoModelForMultipleChoice"}


@dataclass
class HFExport:
    """What to write: a full Auto-class model, or the encoder plus the raw head tensors."""

    model: PreTrainedModel
    auto_class: str  # "AutoModel" for the encoder-plus-head layout
    head_tensors: dict[str, torch.Tensor] | None = None
    reason: str = ""  # why the Auto class of the task type was not used
    probe_max_diff: float | None = None


def label_maps(task: Task) -> tuple[dict[int, str], dict[str, int]]:
    """id2label / label2id from the task's labels (as stored with the model)."""
    id2label = {i: str(label) for i, label in enumerate(task.labels)}
    return id2label, {label: i for i, label in id2label.items()}


def _auto_model(encoder: PreTrainedModel, auto: type, num_labels: int | None,
                task: Task) -> PreTrainedModel:
    config = encoder.config.__class__.from_dict(encoder.config.to_dict())
    if num_labels is not None:
        config.num_labels = num_labels
        config.id2label, config.label2id = label_maps(task)
    hf = auto.from_config(config)
    missing, unexpected = hf.base_model.load_state_dict(encoder.state_dict(), strict=False)
    # The encoder may carry a pooler the token-level classes leave out; nothing else may differ.
    unexpected = [k for k in unexpected if not k.startswith("pooler.")]
    if missing or unexpected:
        raise XstiltsError(f"cannot export {type(encoder).__name__} as {auto.__name__}: "
                           f"weights missing {missing[:5]}, unexpected {unexpected[:5]}")
    return hf


def _head_linear(hf: PreTrainedModel) -> tuple[str, nn.Linear]:
    """The one linear layer outside the base model (``classifier``, ``qa_outputs``)."""
    prefix = hf.base_model_prefix
    extra = [(name, module) for name, module in hf.named_children() if name != prefix
             and any(True for _ in module.parameters())]
    if len(extra) != 1 or not isinstance(extra[0][1], nn.Linear):
        layout = ", ".join(f"{n}: {type(m).__name__}" for n, m in extra)
        raise XstiltsError(f"{type(hf).__name__}'s head is not one linear layer ({layout}); "
                           "xstilts' head cannot be written into it unchanged")
    return extra[0]  # type: ignore[return-value]


def _probe_batch(tokenizer: PreTrainedTokenizerBase, task: Task) -> dict[str, torch.Tensor]:
    if task.type == TaskType.EXTRACTIVE_QA:
        return tokenizer(["Where is the cat?"] * len(PROBE_TEXTS), list(PROBE_TEXTS),
                         padding=True, return_tensors="pt")
    return tokenizer(list(PROBE_TEXTS), padding=True, return_tensors="pt")


@torch.inference_mode()
def _probe(head: nn.Module, encoder: PreTrainedModel, hf: PreTrainedModel,
           tokenizer: PreTrainedTokenizerBase, task: Task) -> float:
    """Max |logit difference| between xstilts' head and the HF model on real tokens."""
    batch = _probe_batch(tokenizer, task)
    inputs = {"input_ids": batch["input_ids"], "attention_mask": batch["attention_mask"]}
    for module in (head, encoder, hf):
        module.eval()
    _, ours = head(encoder, inputs)
    out = hf(**inputs)
    theirs = (out.logits if task.type == TaskType.TAGGING
              else torch.stack([out.start_logits, out.end_logits], dim=-1))
    real = inputs["attention_mask"].bool()
    return float((ours.float() - theirs.float()).abs()[real].max())


def to_hf(encoder: PreTrainedModel, head: nn.Module | None, task: Task | None, pooling: str,
          tokenizer: PreTrainedTokenizerBase) -> HFExport:
    """The model to write for ``encoder`` with ``head`` of ``task`` (None: a phase-2 encoder)."""
    if head is None or task is None:
        return HFExport(encoder, "AutoModel")
    if task.type in AUTO_CLASSES:
        auto, auto_name = AUTO_CLASSES[task.type]
        num_labels = task.num_labels if task.type == TaskType.TAGGING else None
        hf = _auto_model(encoder, auto, num_labels, task)
        _, linear = _head_linear(hf)
        ours = head.out
        if linear.weight.shape != ours.weight.shape:
            raise XstiltsError(f"{auto_name}: head shape {tuple(linear.weight.shape)} differs "
                               f"from xstilts' {tuple(ours.weight.shape)}")
        with torch.no_grad():
            linear.weight.copy_(ours.weight)
            linear.bias.copy_(ours.bias)
        diff = _probe(head, encoder, hf, tokenizer, task)
        if not diff <= PROBE_TOLERANCE:
            raise XstiltsError(f"{auto_name} does not reproduce xstilts' {task.type} head: "
                               f"logits differ by up to {diff:.3g} on probe inputs (tolerance "
                               f"{PROBE_TOLERANCE}); not exported")
        return HFExport(hf, auto_name, probe_max_diff=diff)
    if task.labels and task.type != TaskType.REGRESSION:
        encoder.config.id2label, encoder.config.label2id = label_maps(task)
    tensors = {k: v.detach().contiguous().cpu() for k, v in head.state_dict().items()}
    auto = POOLED_AUTO.get(task.type)
    reason = (POOLED_REASON.format(auto=auto, pooling=pooling) if auto else
              f"task type {task.type!r} has no transformers Auto class with the same head")
    return HFExport(encoder, "AutoModel", head_tensors=tensors, reason=reason)
