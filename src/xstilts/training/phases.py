"""Phase 2 (intermediate training) and phase 3 (target training + zero-shot evaluation).

Each phase is one readable function wiring small builders (load encoder, read data,
featurise, train, save, evaluate), in the spirit of a torchtune recipe. Both write into a run
folder that the executor moves into place atomically.
"""

from __future__ import annotations

import json
import logging
import random
import shutil
import time
from dataclasses import replace
from pathlib import Path
from typing import Any

from accelerate import PartialState
from accelerate.utils import set_seed
from transformers import PreTrainedTokenizerBase

from xstilts.distributed import is_main_process, launched_processes
from xstilts.errors import XstiltsError
from xstilts.models.encoders import load_encoder, load_mlm_encoder
from xstilts.models.heads import TaskModel
from xstilts.results import Score
from xstilts.tasks import Task, TaskType, resolve_task
from xstilts.tasks.readers import recording_skipped_rows
from xstilts.tasks.translations import translated_view
from xstilts.tasktypes import handler_for
from xstilts.tasktypes.feature_cache import cached_featurize
from xstilts.tasktypes.mlm import MlmHandler
from xstilts.tasktypes.zero_shot import EvaluationSettings, evaluate_languages
from xstilts.training import model_reuse
from xstilts.training.checkpoint import (
    link_checkpoint,
    load_task_model,
    save_encoder,
    save_task_model,
)
from xstilts.training.options import TrainingOptions
from xstilts.training.run_folder import RunFolder
from xstilts.training.runs import IntermediateRun, PhaseTask, TargetRun
from xstilts.training.substitution import substitute_examples
from xstilts.training.tracking import RunTracker
from xstilts.training.trainer import TrainingStream, train_model

# Subsets are drawn with a fixed seed so that every run seed trains on the same examples:
# seeds then vary only data order and head initialisation, as the design asks.
SUBSET_SEED = 0
logger = logging.getLogger("xstilts.training")


def select_examples(examples: list, cap: int | None) -> list:
    if cap is None or cap >= len(examples):
        return examples
    picked = sorted(random.Random(SUBSET_SEED).sample(range(len(examples)), cap))
    return [examples[i] for i in picked]


def truncate_layers(encoder: Any, num_layers: int | None) -> None:
    """Keep only the first ``num_layers`` transformer layers (a cheap model for small machines).

    Works for BERT/XLM-R-style encoders (``encoder.encoder.layer``); the config is updated so
    a saved phase-2 checkpoint reloads with the same depth.
    """
    if num_layers is None:
        return
    layers = getattr(getattr(encoder, "encoder", None), "layer", None)
    if layers is None:
        raise XstiltsError(f"num_layers: cannot truncate a {type(encoder).__name__} (only "
                           "BERT/XLM-R-style encoders with encoder.layer are supported)")
    if num_layers > len(layers):
        raise XstiltsError(f"num_layers: {num_layers} asked, but the encoder has only "
                           f"{len(layers)} layers")
    encoder.encoder.layer = layers[:num_layers]
    encoder.config.num_hidden_layers = num_layers


def build_stream(member: PhaseTask, options: TrainingOptions,
                 tokenizer: PreTrainedTokenizerBase, data_dir: Path | None, *,
                 skip_bad_rows: bool = False, seed: int = 0,
                 dev_language: str | None = None, task: Task | None = None) -> TrainingStream:
    """Read, subsample and featurise one task's training (and dev) data; ``seed`` (the run
    seed) draws the substitution smoothing, if any; ``task`` reads the data instead of the
    registered task (a translate setting's view of it)."""
    return _build_stream(member, options, tokenizer, data_dir, skip_bad_rows=skip_bad_rows,
                         seed=seed, dev_language=dev_language, task=task)[0]


def _build_stream(member: PhaseTask, options: TrainingOptions,
                  tokenizer: PreTrainedTokenizerBase, data_dir: Path | None, *,
                  skip_bad_rows: bool = False, seed: int = 0,
                  dev_language: str | None = None, task: Task | None = None
                  ) -> tuple[TrainingStream, list]:
    """The stream plus its training examples (an MLM stream masks the very same texts);
    dev data is read in ``dev_language`` (default: the training language)."""
    task = task or resolve_task(member.task, data_dir)
    handler = handler_for(task, options.pair_encoding)
    language, train_split, dev_split = member.language, member.train_split, member.dev_split
    train = select_examples(task.load(train_split, language, data_dir,
                                      skip_bad_rows=skip_bad_rows),
                            options.max_train_examples)
    if not handler.labeled(task, train):
        raise XstiltsError(f"{task.name}/{train_split}/{language} has no labels: cannot train")
    smoothing = options.smoothing
    if smoothing is not None and smoothing.substitution_dictionary:
        # The run seed, unlike the subset: substitutions are noise that seeds should vary.
        train, counts = substitute_examples(train, smoothing.substitution_dictionary,
                                            smoothing.substitution_probability, seed)
        logger.info("%s: substitution smoothing replaced %d of %d words", task.name,
                    counts["replaced"], counts["words"])
    dev_language = dev_language or language
    dev = None
    distinct = dev_split != train_split or dev_language != language
    if dev_split and distinct and dev_split in task.splits and (
            task.has_data(dev_split, dev_language, data_dir)):
        dev = select_examples(task.load(dev_split, dev_language, data_dir,
                                        skip_bad_rows=skip_bad_rows),
                              options.max_dev_examples)
        if not handler.labeled(task, dev):
            dev = None  # an unlabeled dev split cannot select models
    fopts = options.feature_options()
    stream = TrainingStream(
        task=task, handler=handler,
        train=cached_featurize(handler, task, train, tokenizer, fopts, training=True),
        dev_examples=dev,
        dev=cached_featurize(handler, task, dev, tokenizer, fopts, training=False)
        if dev else None,
    )
    return stream, train


def mlm_stream(task_stream: TrainingStream, train: list, handler: MlmHandler,
               options: TrainingOptions, tokenizer: PreTrainedTokenizerBase) -> TrainingStream:
    """MLM on a task's training texts, as its own stream (``<task>:mlm``) without dev data."""
    task = replace(task_stream.task, name=f"{task_stream.task.name}:mlm")
    features = handler.featurize(task, train, tokenizer, options.feature_options(),
                                 training=True)
    return TrainingStream(task=task, handler=handler, train=features)


def _model_with_heads(encoder: Any, streams: list[TrainingStream], pooling: str,
                      seed: int) -> TaskModel:
    """Heads are initialised right after seeding, so they depend on the run seed only (not on
    whatever ran earlier in the process, e.g. a random init while loading the encoder)."""
    set_seed(seed)
    model = TaskModel(encoder, pooling=pooling)
    for s in streams:
        model.add_head(s.task.name, s.handler.build_head(s.task, model.hidden_size, pooling))
    return model


def run_intermediate(run: IntermediateRun, data_dir: Path | None, run_dir: Path, *,
                     encoder_source: str | None = None,
                     tracker: RunTracker | None = None) -> dict:
    """Phase 2: train the encoder on one task or a mix; save the encoder without heads.

    ``encoder_source`` is what is loaded when it is not ``run.encoder`` itself (the study's
    trimmed copy of it). With ``mlm`` every task also gets an MLM stream on its training
    texts; all MLM streams share the encoder's one pretrained masked-LM head, which is
    dropped with the others.
    """
    options, folder = run.training, RunFolder(run_dir)
    source = encoder_source or run.encoder
    mlm = run.mlm_probability is not None
    if mlm:
        encoder, predictor, tokenizer = load_mlm_encoder(source)
    else:
        encoder, tokenizer = load_encoder(source)
    truncate_layers(encoder, options.num_layers)
    with recording_skipped_rows() as skipped:
        built = [_build_stream(m, options, tokenizer, data_dir, skip_bad_rows=run.skip_bad_rows,
                               seed=run.seed) for m in run.tasks]
    streams = [stream for stream, _ in built]
    if mlm:
        handler = MlmHandler(predictor, tokenizer, seed=run.seed,
                             probability=run.mlm_probability)
        streams += [mlm_stream(s, train, handler, options, tokenizer) for s, train in built]
    model = _model_with_heads(encoder, streams, options.pooling, run.seed)
    names = "+".join(s.task.name for s in streams)
    result = train_model(model, streams, options, seed=run.seed,
                         pad_id=tokenizer.pad_token_id, mix=run.mix,
                         log_path=folder.log, resume_dir=folder.resume,
                         description=f"phase 2 {names}", tracker=tracker)
    if is_main_process():  # the other processes of a DDP launch only train
        save_encoder(model, tokenizer, folder.encoder, shared_weights=folder.shared_weights)
        shutil.rmtree(folder.resume, ignore_errors=True)
    return {"training": result.__dict__, **skipped}


def run_retrieval(run: TargetRun, encoder_source: str, data_dir: Path | None,
                  run_dir: Path) -> tuple[list[Score], dict]:
    """Retrieval target (Tatoeba accuracy, BUCC F1, Mewsli-X/LAReQA mAP@20) under the
    protocol the planner resolved from the base encoder (``run.retrieval``: the same
    layer for the pretrained encoder and every phase-2 checkpoint), recorded in run.json
    (``info.retrieval_protocol``); ``max_examples`` caps Tatoeba pairs, or pooled-task
    queries only. Tatoeba with ``evaluation.align`` adds held-out rows before and after
    alignment."""
    from xstilts.alignment.tatoeba_target import heldout_evaluation
    from xstilts.evaluation.embeddings import check_layer
    from xstilts.evaluation.retrieval import Protocol, load_model, resolve_protocol
    from xstilts.tasktypes import encoder_handler_for

    task, languages, folder = run.task, list(run.languages), RunFolder(run_dir)
    evaluation = run.evaluation
    name, encoder, tokenizer = load_model(encoder_source)
    if run.retrieval:
        protocol = Protocol.from_plan(run.retrieval)
        check_layer(encoder, protocol.layer)  # e.g. a checkpoint truncated by num_layers
    else:  # settings planned before protocols were: the layer rule reads the base encoder
        protocol = resolve_protocol(name, encoder, layer_from=run.encoder)
    # Held-out rows before/after alignment: only set for bitext tasks (the planner's rule).
    heldout = heldout_evaluation(
        evaluation.align.method, evaluation.align.n_train, seed=run.seed,
        resamples=evaluation.bootstrap_resamples, predictions_dir=folder.predictions(),
    ) if evaluation.align else None
    definition = resolve_task(task, data_dir)
    results = encoder_handler_for(definition).evaluate_run(
        (encoder, tokenizer), definition, languages, data_dir, split=run.eval_split,
        protocol=protocol, max_examples=evaluation.max_examples,
        batch_size=evaluation.batch_size, resamples=evaluation.bootstrap_resamples,
        seed=run.seed, predictions_dir=folder.predictions(), heldout=heldout)
    recorded = {**protocol.to_dict(), "encoder_evaluated": encoder_source}
    for r in results:
        if "view" not in r:  # held-out alignment rows are xx→en whatever the preset
            r.setdefault("protocol", recorded)
    split = run.eval_split
    # Held-out rows before/after alignment (Tatoeba with evaluation.align) are "<split>+view".
    rows = [Score(r["metric"], r["value"], r.get("ci_low"), r.get("ci_high"), r["n"],
                  task=task, language=r["language"],
                  split=f"{split}+{r['view']}" if "view" in r else split)
            for r in results]
    folder.metrics.write_text(json.dumps(results, indent=2), encoding="utf-8")
    info: dict[str, Any] = {"retrieval": [r for r in results if "view" not in r],
                            "retrieval_protocol": recorded}
    alignment = {r["language"]: r["alignment"] for r in results if "alignment" in r}
    if alignment:
        info["alignment"] = alignment
    return rows, info


def run_target(run: TargetRun, encoder_source: str, data_dir: Path | None,
               run_dir: Path, *, keep_checkpoint: bool = False,
               tracker: RunTracker | None = None,
               hold_model: bool = False) -> tuple[list[Score], dict]:
    """Phase 3: fine-tune on the target's English data, then evaluate every language (the
    translate settings: on translated training data, or on translated test sets).

    Retrieval targets have no phase 3: the encoder itself is pooled and evaluated. With
    ``keep_checkpoint`` the fine-tuned model (encoder + head) is kept in ``run_dir/model``;
    with ``hold_model`` it is also kept in memory for the run's zero-shot / translate-test
    twin (:mod:`xstilts.training.model_reuse`), which takes it instead of training.
    """
    task = resolve_task(run.task, data_dir)
    if task.type == TaskType.RETRIEVAL:  # nothing to train: the main process does it alone
        return run_retrieval(run, encoder_source, data_dir, run_dir) \
            if is_main_process() else ([], {})
    with recording_skipped_rows() as skipped:
        rows, info = train_and_evaluate(task, run, encoder_source, data_dir, run_dir,
                                        keep_checkpoint=keep_checkpoint, tracker=tracker,
                                        hold_model=hold_model)
    return rows, {**info, **skipped}


def train_and_evaluate(task: Task, run: TargetRun, encoder_source: str,
                       data_dir: Path | None, run_dir: Path, *, keep_checkpoint: bool = False,
                       tracker: RunTracker | None = None,
                       hold_model: bool = False) -> tuple[list[Score], dict]:
    """Phase 3 of a trainable target: fine-tune (or take the model another run trained the
    same way, :mod:`xstilts.training.model_reuse`), keep the model if asked, evaluate."""
    options, folder = run.training, RunFolder(run_dir)
    # The translate settings read some of the data from translated files (a view of the task).
    view = translated_view(task, run.setting, train_split=run.train_split,
                           eval_split=run.eval_split, languages=run.languages)
    key = model_reuse.run_training_key(run, task.train_language)
    trained = model_reuse.take(key)
    if trained is None and launched_processes() == 1:
        trained = _kept_model(run_dir.parent, key, task.train_language)
    info: dict[str, Any] = {}
    if trained is None:
        trained = _fine_tune(task, run, view, encoder_source, data_dir, folder, key, tracker)
        if not is_main_process():  # DDP: the main process saves and evaluates
            return [], {"training": trained.training}
    else:
        info["model_from"] = trained.run_id
        logger.info("%s: evaluating the model of run %s, trained on the same data, options "
                    "and seed; not training again", run.id, trained.run_id)
        if trained.log is not None:
            folder.log.write_bytes(trained.log)
    model, tokenizer = trained.model, trained.tokenizer
    if keep_checkpoint and trained.folder is not None:  # the kept checkpoint, linked
        link_checkpoint(trained.folder, folder.model)
    elif keep_checkpoint:
        save_task_model(model, tokenizer, folder.model, task=task,
                        pair_encoding=options.pair_encoding,
                        shared_weights=folder.shared_weights)
    how = EvaluationSettings.from_options(
        run.evaluation, options.feature_options(),
        handler=handler_for(view, options.pair_encoding), seed=run.seed,
        autocast_bf16=options.precision == "bf16", skip_bad_rows=run.skip_bad_rows)
    started = time.perf_counter()  # recorded so per-run overhead can be told from work
    rows = evaluate_languages(model, tokenizer, view, list(run.languages), run.eval_split,
                              data_dir, folder.predictions(), how)
    extra_rows, summary = extra_evaluations(model, tokenizer, task, run, data_dir, folder, how)
    rows += extra_rows
    folder.metrics.write_text(
        json.dumps([r.to_dict() for r in rows], indent=2), encoding="utf-8")
    shutil.rmtree(folder.resume, ignore_errors=True)
    if hold_model:  # for the twin (a model loaded from a kept checkpoint as well)
        trained.log = folder.log.read_bytes() if folder.log.is_file() else None
        model_reuse.hold(trained)
    return rows, {"training": trained.training, **info,
                  "evaluation_seconds": round(time.perf_counter() - started, 2), **summary}


def _fine_tune(task: Task, run: TargetRun, view: Task, encoder_source: str,
               data_dir: Path | None, folder: RunFolder, key: str,
               tracker: RunTracker | None) -> model_reuse.TrainedModel:
    """Load the encoder, add the task's head and train it on ``view``'s training data."""
    options = run.training
    encoder, tokenizer = load_encoder(encoder_source)
    truncate_layers(encoder, options.num_layers)
    stream = build_stream(PhaseTask(task.name, run.train_language, run.train_split,
                                    run.dev_split),
                          options, tokenizer, data_dir, skip_bad_rows=run.skip_bad_rows,
                          seed=run.seed, dev_language=run.dev_language, task=view)
    model = _model_with_heads(encoder, [stream], options.pooling, run.seed)
    result = train_model(model, [stream], options, seed=run.seed,
                         pad_id=tokenizer.pad_token_id, log_path=folder.log,
                         resume_dir=folder.resume, description=f"phase 3 {task.name}",
                         tracker=tracker)
    return model_reuse.TrainedModel(key=key, run_id=run.id, model=model, tokenizer=tokenizer,
                                    training=result.__dict__, log=None)


def _kept_model(runs_dir: Path, key: str, english: str) -> model_reuse.TrainedModel | None:
    """A finished run's kept model trained under ``key`` (``retention:
    {keep_target_checkpoints: true}``), loaded; None if there is none or it fails its checks
    (then the run trains: a damaged checkpoint never stops it)."""
    kept = model_reuse.find_kept_model(runs_dir, key, english)
    if kept is None:
        return None
    try:
        model, tokenizer, _ = load_task_model(kept.folder.model)
    except (XstiltsError, OSError) as err:
        logger.warning("the kept model of run %s trained the same way cannot be used (%s); "
                       "training instead", kept.run_id, err)
        return None
    model.to(PartialState().device)  # where training would have left it (a GPU if any)
    log = kept.folder.log.read_bytes() if kept.folder.log.is_file() else None
    return model_reuse.TrainedModel(key=key, run_id=kept.run_id, model=model,
                                    tokenizer=tokenizer, training=kept.training, log=log,
                                    folder=kept.folder.model)


def extra_evaluations(model: TaskModel, tokenizer: PreTrainedTokenizerBase, task: Task,
                      run: TargetRun, data_dir: Path | None, folder: RunFolder,
                      how: EvaluationSettings) -> tuple[list[Score], dict[str, Any]]:
    """The optional evaluations after the per-language one: the generalized cross-lingual
    matrix (split ``<split>+generalized``, predictions/generalized/A-B.jsonl) and the
    evaluation with Tatoeba-fitted projections (split ``<split>+align``,
    predictions/align/LANG.jsonl)."""
    evaluation, split, options = run.evaluation, run.eval_split, run.training
    languages = list(run.languages)
    rows: list[Score] = []
    summary: dict[str, Any] = {}
    if evaluation.generalized:
        from xstilts.tasktypes.zero_shot import evaluate_generalized

        rows += evaluate_generalized(model, tokenizer, task, evaluation.generalized, split,
                                     data_dir, folder.predictions("generalized"), how)
    if evaluation.align:
        from xstilts.alignment.in_model import (
            evaluate_aligned,
            fit_tatoeba_projections,
            require_siamese,
        )

        require_siamese(how.handler)
        align = evaluation.align
        projections, summary["alignment"] = fit_tatoeba_projections(
            model.encoder, tokenizer, languages, data_dir, method=align.method,
            n_train=align.n_train, pooling=options.pooling,
            max_length=options.max_seq_length, batch_size=evaluation.batch_size,
            seed=run.seed, skip_bad_rows=how.skip_bad_rows)
        rows += evaluate_aligned(model, tokenizer, task, languages, split, data_dir,
                                 folder.predictions("align"), projections, how)
    return rows, summary
