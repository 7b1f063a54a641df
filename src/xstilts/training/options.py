"""Training options: the one place where their defaults live (validated by pydantic)."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field


class TrainingOptions(BaseModel):
    """How one phase trains. Study files set these per phase; unset fields keep these defaults.

    The defaults suit the bundled encoder on a CPU; the paper recipe (X-STILTs, jiant) is
    lr 1e-5, effective batch 32, warm-up 10 %, model selection on English dev.
    """

    model_config = ConfigDict(extra="forbid")

    learning_rate: float = Field(5e-5, gt=0)
    batch_size: int = Field(32, ge=1)
    gradient_accumulation_steps: int = Field(1, ge=1)
    epochs: int = Field(3, ge=1)
    max_steps: int | None = Field(None, ge=1, description="stop after this many optimizer steps")
    warmup_ratio: float = Field(0.1, ge=0, lt=1)
    weight_decay: float = Field(0.01, ge=0)
    max_grad_norm: float = Field(1.0, gt=0)
    max_seq_length: int = Field(128, ge=8)
    max_train_examples: int | None = Field(None, ge=1, description="cap on training examples")
    max_dev_examples: int | None = Field(500, ge=1, description="cap on dev examples")
    freeze_embeddings: bool = Field(False, description="freeze word embeddings (saves time)")
    pooling: Literal["mean", "cls"] = "mean"
    precision: Literal["no", "bf16", "fp16"] = "no"
    early_stopping_patience: int | None = Field(
        None, ge=1, description="stop after this many epochs without dev improvement"
    )
    log_every: int = Field(10, ge=1)
