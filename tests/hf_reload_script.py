"""Reload an exported model with transformers, torch and safetensors alone, and predict.

Run as ``python hf_reload_script.py REQUEST.json RESULT.json`` in a fresh process: it imports
nothing from xstilts, so what it computes is what a user of the exported folder gets.
REQUEST: {"dir", "kind": "tokens" | "words" | "qa" | "pooled" | "choice", "max_length",
"items"}; RESULT: {"logits": [...], "input_ids": [...], "labels": [...]} per item.
"""

import json
import sys

import torch
from safetensors.torch import load_file
from transformers import (
    AutoModel,
    AutoModelForQuestionAnswering,
    AutoModelForTokenClassification,
    AutoTokenizer,
)


def pooled(encoder, batch, pooling):
    hidden = encoder(**batch).last_hidden_state
    if pooling == "cls":
        return hidden[:, 0]
    mask = batch["attention_mask"].unsqueeze(-1).to(hidden.dtype)
    return (hidden * mask).sum(1) / mask.sum(1).clamp(min=1)


def main(request_path, result_path):
    request = json.load(open(request_path, encoding="utf-8"))
    folder, kind, length = request["dir"], request["kind"], request["max_length"]
    tokenizer = AutoTokenizer.from_pretrained(folder)
    out = {"logits": [], "input_ids": [], "labels": []}
    with torch.no_grad():
        if kind == "words":  # tagging: one list of words per item
            model = AutoModelForTokenClassification.from_pretrained(folder).eval()
            for words in request["items"]:
                batch = tokenizer(words, is_split_into_words=True, truncation=True,
                                  max_length=length, return_tensors="pt")
                logits = model(**batch).logits[0]
                first = {}
                for position, word in enumerate(batch.word_ids()):
                    if word is not None and word not in first:
                        first[word] = position
                tags = [model.config.id2label[int(logits[first[w]].argmax())]
                        for w in sorted(first)]
                out["logits"].append(logits.tolist())
                out["input_ids"].append(batch["input_ids"][0].tolist())
                out["labels"].append(tags)
        elif kind == "qa":  # token ids of xstilts' windows
            model = AutoModelForQuestionAnswering.from_pretrained(folder).eval()
            for ids in request["items"]:
                result = model(input_ids=torch.tensor([ids]),
                               attention_mask=torch.ones(1, len(ids), dtype=torch.long))
                out["logits"].append(torch.stack([result.start_logits[0],
                                                  result.end_logits[0]], -1).tolist())
        else:  # pooled heads: the encoder plus xstilts_head.safetensors
            encoder = AutoModel.from_pretrained(folder).eval()
            info = json.load(open(f"{folder}/xstilts_head.json", encoding="utf-8"))
            head = load_file(f"{folder}/xstilts_head.safetensors")
            for item in request["items"]:
                if kind == "choice":
                    first, second = [item["context"]] * len(item["choices"]), item["choices"]
                else:
                    first, second = [item[0]], [item[1]] if len(item) > 1 else None
                batch = tokenizer(first, second, truncation=True, max_length=length,
                                  padding=True, return_tensors="pt")
                vectors = pooled(encoder, batch, info["pooling"])
                logits = vectors @ head["out.weight"].T + head["out.bias"]
                if kind == "choice":
                    logits = logits.squeeze(-1)
                    out["labels"].append(int(logits.argmax()))
                    out["logits"].append(logits.tolist())
                else:
                    out["labels"].append(encoder.config.id2label[int(logits[0].argmax())])
                    out["logits"].append(logits[0].tolist())
                out["input_ids"].append(batch["input_ids"].tolist())
    json.dump(out, open(result_path, "w", encoding="utf-8"))


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2])
