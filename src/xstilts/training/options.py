"""Training options: the one place where their defaults live (validated by pydantic)."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from xstilts.data.feature_options import FeatureOptions

# The featurisation defaults are FeatureOptions' own: defined once, read here.
_FEATURES = FeatureOptions()


class AdversarialOptions(BaseModel):
    """Adversarial training in the embedding space (PGD or FreeLB), arXiv 2104.08645."""

    model_config = ConfigDict(extra="forbid", allow_inf_nan=False)

    method: Literal["pgd", "freelb"] = "pgd"
    steps: int = Field(2, ge=1, description="ascent steps per update")
    epsilon: float = Field(1.0, gt=0, description="L2 radius of the perturbation per example")
    step_size: float = Field(0.5, gt=0, description="L2 length of one ascent step")


class SmoothingOptions(BaseModel):
    """Randomized smoothing: Gaussian noise on embeddings and/or dictionary substitution."""

    model_config = ConfigDict(extra="forbid", allow_inf_nan=False)

    noise_sigma: float | None = Field(None, gt=0, description="std of Gaussian embedding noise")
    substitution_dictionary: str | None = Field(
        None, description="file of 'word<TAB or space>substitute' lines (e.g. MUSE dictionaries)")
    substitution_probability: float = Field(0.15, gt=0, le=1)


class TrainingOptions(BaseModel):
    """How one phase trains. Study files set these per phase; unset fields keep these defaults.

    A new field must be listed in :data:`xstilts.training.runs.FIELDS_ADDED_LATER` (or, if it
    never changes results, ``BOOKKEEPING_FIELDS``) so that existing run ids stay valid.

    The defaults suit the bundled encoder on a CPU; the paper recipe (X-STILTs, jiant) is
    lr 1e-5, effective batch 32, warm-up 10 %, model selection on English dev.
    """

    model_config = ConfigDict(extra="forbid", allow_inf_nan=False)

    learning_rate: float = Field(5e-5, gt=0)
    batch_size: int = Field(32, ge=1)
    gradient_accumulation_steps: int = Field(1, ge=1)
    epochs: int = Field(3, ge=1)
    max_steps: int | None = Field(None, ge=1, description="stop after this many optimizer steps")
    warmup_ratio: float = Field(0.1, ge=0, lt=1)
    weight_decay: float = Field(0.01, ge=0)
    max_grad_norm: float = Field(1.0, gt=0)
    max_seq_length: int = Field(_FEATURES.max_seq_length, ge=8)
    doc_stride: int = Field(_FEATURES.doc_stride, ge=1, description="extractive QA: overlap in "
                            "tokens between a context's windows")
    max_query_length: int = Field(_FEATURES.max_query_length, ge=1, description="extractive "
                                  "QA: questions are cut to this many tokens")
    max_train_examples: int | None = Field(None, ge=1, description="cap on training examples")
    max_dev_examples: int | None = Field(500, ge=1, description="cap on dev examples")
    freeze_embeddings: bool = Field(False, description="freeze word embeddings (saves time)")
    num_layers: int | None = Field(
        None, ge=1, description="keep only the first k transformer layers (small machines)")
    pooling: Literal["mean", "cls"] = "mean"
    pair_encoding: Literal["auto", "cross", "siamese"] = Field(
        "auto", description="pair tasks: one input (cross) or each text alone (siamese, "
        "SBERT); auto: the task's published protocol (siamese for sts17), else cross; runs "
        "store the concrete value")
    precision: Literal["auto", "no", "bf16", "fp16"] = Field(
        "auto", description="auto: bf16 where the device runs it natively (CUDA GPU with bf16, "
        "CPU with avx512_bf16/amx), else no (fp32); runs store the concrete value")
    dropout_masks: Literal["auto", "torch", "fast"] = Field(
        "auto", description="how training draws dropout masks: torch (torch's dropout), fast "
        "(16 random bits per element from the same generator, p rounded to 1/65536; a third "
        "of torch's cost on a CPU); auto: fast on a CPU, torch on a GPU; runs store the "
        "concrete value")
    early_stopping_patience: int | None = Field(
        None, ge=1, description="stop after this many epochs without dev improvement"
    )
    log_every: int = Field(10, ge=1)
    adversarial: AdversarialOptions | None = None
    smoothing: SmoothingOptions | None = None
    checkpoint_every_steps: int | None = Field(
        None, ge=1, description="save resumable state this often (default: at an epoch "
        "end, once 60 s or more have passed since the last save)")
    threads: int | None = Field(
        None, ge=1, description="intra-op threads the run trains and evaluates with (the count "
        "changes float sums, hence results); null: the study process's default (torch's: "
        "OMP_NUM_THREADS, else the physical cores), which Ray workers take too")

    def feature_options(self) -> FeatureOptions:
        """The featurisation part: the only way these options reach a tokenizer."""
        return FeatureOptions(max_seq_length=self.max_seq_length, doc_stride=self.doc_stride,
                              max_query_length=self.max_query_length)


class MixOptions(BaseModel):
    """How a multi-task intermediate phase samples its tasks (one head per task).

    Task i is drawn with probability ∝ min(n_i, size_cap) ** (1 / temperature):
    ``proportional`` is temperature 1, ``uniform`` ignores sizes, ``temperature`` uses the
    given T (T = 2 is a common middle ground).
    """

    model_config = ConfigDict(extra="forbid", allow_inf_nan=False)

    sampler: Literal["proportional", "temperature", "uniform"] = "proportional"
    temperature: float = Field(2.0, gt=0)
    size_cap: int | None = Field(None, ge=1, description="cap on each task's size when sampling")

    def probabilities(self, sizes: list[int]) -> list[float]:
        capped = [min(n, self.size_cap) if self.size_cap else n for n in sizes]
        if self.sampler == "uniform":
            weights = [1.0 for _ in capped]
        else:
            t = 1.0 if self.sampler == "proportional" else self.temperature
            weights = [n ** (1.0 / t) for n in capped]
        total = sum(weights)
        return [w / total for w in weights]
