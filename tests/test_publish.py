"""``rasd publish``: staging (dry run), loading the staged folder, hub errors, loading by hub id.

No test touches the network: every ``HfApi`` method publishing uses is replaced,
by default with one that fails the test.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
from huggingface_hub import HfApi, ModelCard, constants
from huggingface_hub.errors import (
    HfHubHTTPError,
    LocalTokenNotFoundError,
    OfflineModeIsEnabled,
    RepositoryNotFoundError,
)

from rasd.training import publish, publish_cli
from rasd.training.publish import PublishError, files_to_upload

try:  # huggingface_hub 2.x raises httpx2 errors, 1.x httpx ones (same API for what is used here)
    import httpx2
except ImportError:
    import httpx as httpx2

REPO = "rasd-org/rasd-tiny"
REAL_REPO_INFO = HfApi.repo_info
SAMPLES = [
    "أعلنت وزارة الدفاع العراقية يوم الأحد أن صاروخين سقطا قرب قاعدة عين الأسد الجوية في محافظة الأنبار.",
    "أسقطت الدفاعات الجوية طائرة مسيرة فوق أربيل مساء الاثنين. وتبنت المقاومة الإسلامية في العراق الهجوم.",
]


@pytest.fixture(scope="module")
def model_dir(trained_model_dir: Path) -> Path:
    """A tiny model trained by the real trainer, with its model card (conftest)."""
    return trained_model_dir


def _run(argv: list[str]) -> int:
    """``rasd ARGV`` through the real entry point (its error line and exit status)."""
    from rasd.cli import main

    return main(argv)


@pytest.fixture(autouse=True)
def no_network(monkeypatch: pytest.MonkeyPatch) -> None:
    """Any hub call that a test did not replace fails loudly; a token is present unless a test removes it."""

    def fail(*args, **kwargs):
        raise AssertionError("unexpected network call")

    for name in ("create_repo", "create_branch", "upload_folder", "whoami", "repo_info"):
        monkeypatch.setattr(HfApi, name, fail)
    monkeypatch.setenv("HF_TOKEN", "hf_test_token_not_real")
    monkeypatch.delenv("HF_HUB_OFFLINE", raising=False)
    monkeypatch.setattr(constants, "HF_HUB_OFFLINE", False)


def _response(status: int) -> httpx2.Response:
    return httpx2.Response(status, request=httpx2.Request("POST", "https://huggingface.co/api/repos/create"))


# ----------------------------------------------------------------------------- dry run


def test_dry_run_stages_exactly_the_uploadable_files(model_dir: Path, tmp_path: Path, capsys) -> None:
    out = tmp_path / "staged"
    assert _run(["publish", "--model", str(model_dir), "--repo-id", REPO, "--dry-run", str(out)]) == 0
    names = {p.name for p in out.iterdir()}
    required = {"config.json", "model.safetensors", "event_head.safetensors", "rasd.json", "README.md"}
    assert required <= names
    assert {"training_config.yaml", "metrics.json"} <= names
    assert "tokenizer.json" in names or "tokenizer_config.json" in names
    assert not any(n.endswith((".bin", ".pt", ".pth")) for n in names)
    printed = capsys.readouterr().out
    for name in names:
        assert name in printed
    # The card is rendered for the repo id, and its metadata parses.
    card = ModelCard((out / "README.md").read_text(encoding="utf-8"))
    assert card.data.model_name == REPO
    assert f'Tagger.from_pretrained("{REPO}")' in card.text
    # Schema files are copied verbatim.
    for name in ("rasd.json", "metrics.json", "training_config.yaml", "config.json"):
        assert (out / name).read_bytes() == (model_dir / name).read_bytes()


def test_staged_folder_loads_with_tagger_and_transformers(model_dir: Path, tmp_path: Path) -> None:
    from transformers import AutoConfig, AutoModelForTokenClassification, AutoTokenizer

    from rasd import Tagger

    out = tmp_path / "staged"
    publish.stage(model_dir, out, REPO)
    original = Tagger.from_pretrained(model_dir, device="cpu")
    staged = Tagger.from_pretrained(out, device="cpu")
    for text in SAMPLES:
        assert staged(text).to_dict() == original(text).to_dict()

    config = AutoConfig.from_pretrained(out)
    assert set(config.id2label.values()) == set(json.loads((model_dir / "config.json").read_text())["id2label"].values())
    tokenizer = AutoTokenizer.from_pretrained(out)
    assert tokenizer(SAMPLES[0])["input_ids"] == AutoTokenizer.from_pretrained(model_dir)(SAMPLES[0])["input_ids"]
    model = AutoModelForTokenClassification.from_pretrained(out)
    assert model.config.num_labels == config.num_labels


def test_refuses_bin_only_and_missing_weights(model_dir: Path, tmp_path: Path, capsys) -> None:
    bin_only = tmp_path / "bin_only"
    shutil.copytree(model_dir, bin_only)
    (bin_only / "model.safetensors").rename(bin_only / "pytorch_model.bin")
    code = _run(["publish", "--model", str(bin_only), "--repo-id", REPO, "--dry-run", str(tmp_path / "a")])
    assert code == 2
    err = capsys.readouterr().err
    assert "only PyTorch .bin weights" in err and "Traceback" not in err
    assert not (tmp_path / "a").exists()

    (bin_only / "pytorch_model.bin").unlink()
    with pytest.raises(PublishError, match="no model weights"):
        files_to_upload(bin_only)
    with pytest.raises(PublishError, match="does not exist"):
        files_to_upload(tmp_path / "nowhere")


def test_refuses_incomplete_folder_and_used_staging_dir(model_dir: Path, tmp_path: Path) -> None:
    partial = tmp_path / "partial"
    shutil.copytree(model_dir, partial)
    (partial / "event_head.safetensors").unlink()
    with pytest.raises(PublishError, match="missing event_head.safetensors"):
        files_to_upload(partial)
    busy = tmp_path / "busy"
    busy.mkdir()
    (busy / "keep.txt").write_text("x")
    with pytest.raises(PublishError, match="not empty"):
        publish.stage(model_dir, busy, REPO)


def test_refuses_a_symlink_out_of_the_model_folder(model_dir: Path, tmp_path: Path, capsys) -> None:
    linked = tmp_path / "linked"
    shutil.copytree(model_dir, linked)
    secret = tmp_path / "secret.txt"
    secret.write_text("not for the hub", encoding="utf-8")
    (linked / "training_config.yaml").unlink()
    (linked / "training_config.yaml").symlink_to(secret)  # e.g. -> /etc/passwd
    with pytest.raises(PublishError, match=r"training_config.yaml is a symbolic link to .*secret.txt, outside"):
        files_to_upload(linked)
    out = tmp_path / "staged"
    assert _run(["publish", "--model", str(linked), "--repo-id", REPO, "--dry-run", str(out)]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "outside the model folder" in err and "Traceback" not in err
    assert not out.exists()
    # A link that stays inside the folder is fine (and its content is staged).
    (linked / "training_config.yaml").unlink()
    (linked / "configs").mkdir()
    shutil.copy(model_dir / "training_config.yaml", linked / "configs" / "training.yaml")
    (linked / "training_config.yaml").symlink_to(Path("configs") / "training.yaml")
    publish.stage(linked, out, REPO)
    staged = out / "training_config.yaml"
    assert not staged.is_symlink() and staged.read_bytes() == (model_dir / "training_config.yaml").read_bytes()


@pytest.mark.parametrize("where", ["new", "new/nested/deeper", "existing-empty"])
def test_failed_staging_leaves_no_half_staged_folder(
    model_dir: Path, tmp_path: Path, monkeypatch, where: str
) -> None:
    from rasd.training import card

    def broken(*args, **kwargs):
        raise RuntimeError("card template exploded")

    monkeypatch.setattr(card, "render_model_card", broken)
    out = tmp_path / where
    if where == "existing-empty":
        out.mkdir()
    with pytest.raises(RuntimeError, match="exploded"):
        publish.stage(model_dir, out, REPO)
    if where == "existing-empty":
        assert out.is_dir() and not any(out.iterdir())  # emptied again, not removed
    else:
        assert not (tmp_path / "new").exists()  # every folder stage() created is gone
    assert sorted(p.name for p in tmp_path.iterdir()) == (["existing-empty"] if where == "existing-empty" else [])


@pytest.mark.parametrize("repo_id", ["not a repo", "org/name/extra", "org--x/a..b", "-bad/name"])
def test_invalid_repo_id_is_one_sentence(model_dir: Path, tmp_path: Path, capsys, repo_id: str) -> None:
    assert _run(["publish", "--model", str(model_dir), f"--repo-id={repo_id}"]) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("rasd: error: Invalid repo id") and "\n" not in err


# ----------------------------------------------------------------------------- hub errors


def _publish_error(model_dir: Path, capsys, *extra: str) -> str:
    assert _run(["publish", "--model", str(model_dir), "--repo-id", REPO, *extra]) == 2
    err = capsys.readouterr().err.strip()
    assert "\n" not in err and "Traceback" not in err
    return err


def test_not_logged_in(model_dir: Path, monkeypatch, capsys) -> None:
    monkeypatch.delenv("HF_TOKEN")
    monkeypatch.setattr("huggingface_hub.get_token", lambda: None)
    assert "Not logged in to the Hugging Face Hub" in _publish_error(model_dir, capsys)


def test_token_error_from_hub_is_not_logged_in(model_dir: Path, monkeypatch, capsys) -> None:
    def create_repo(self, *a, **k):
        raise LocalTokenNotFoundError("Token is required")

    monkeypatch.setattr(HfApi, "create_repo", create_repo)
    assert "Not logged in" in _publish_error(model_dir, capsys)


def test_offline_mode(model_dir: Path, monkeypatch, capsys) -> None:
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    assert "offline mode" in _publish_error(model_dir, capsys)


@pytest.mark.parametrize(
    "exc",
    [
        httpx2.ConnectError("[Errno -3] Temporary failure in name resolution"),
        httpx2.ReadTimeout("timed out"),
        OfflineModeIsEnabled("Cannot reach https://huggingface.co: offline mode is enabled."),
        ConnectionError("connection refused"),
    ],
)
def test_no_network(model_dir: Path, monkeypatch, capsys, exc: Exception) -> None:
    def create_repo(self, *a, **k):
        raise exc

    monkeypatch.setattr(HfApi, "create_repo", create_repo)
    err = _publish_error(model_dir, capsys)
    assert "Cannot reach the Hugging Face Hub" in err or "offline mode" in err


@pytest.mark.parametrize(
    ("status", "where", "expected"),
    [
        (403, "create_repo", "no write access"),
        (401, "create_repo", "rejected your token"),
        (403, "upload_folder", "no write access"),
        (500, "upload_folder", "refused the upload"),
    ],
)
def test_http_errors(model_dir: Path, monkeypatch, capsys, status: int, where: str, expected: str) -> None:
    def fail(self, *a, **k):
        raise HfHubHTTPError(f"{status} Client Error", response=_response(status))

    monkeypatch.setattr(HfApi, "create_repo", lambda self, *a, **k: f"https://huggingface.co/{REPO}")
    monkeypatch.setattr(HfApi, where, fail)
    err = _publish_error(model_dir, capsys)
    assert expected in err and REPO in err


def test_repository_not_found_on_upload(model_dir: Path, monkeypatch, capsys) -> None:
    def upload_folder(self, **k):
        raise RepositoryNotFoundError("404 Client Error. Repository Not Found", response=_response(404))

    monkeypatch.setattr(HfApi, "create_repo", lambda self, *a, **k: f"https://huggingface.co/{REPO}")
    monkeypatch.setattr(HfApi, "upload_folder", upload_folder)
    assert "no write access" in _publish_error(model_dir, capsys)


def test_unexpected_errors_are_not_swallowed(model_dir: Path, monkeypatch) -> None:
    def create_repo(self, *a, **k):
        raise RuntimeError("bug")

    monkeypatch.setattr(HfApi, "create_repo", create_repo)
    with pytest.raises(RuntimeError, match="bug"):
        publish.publish(model_dir, REPO)


# ----------------------------------------------------------------------------- upload (mocked hub)


def test_publish_creates_repo_branch_and_uploads_staged_folder(model_dir: Path, monkeypatch, capsys) -> None:
    calls: dict[str, dict] = {}

    def create_repo(self, repo_id, **kwargs):
        calls["create_repo"] = {"repo_id": repo_id, **kwargs}
        return f"https://huggingface.co/{repo_id}"

    def create_branch(self, repo_id, **kwargs):
        calls["create_branch"] = {"repo_id": repo_id, **kwargs}

    def upload_folder(self, **kwargs):
        folder = Path(kwargs["folder_path"])
        calls["upload_folder"] = {**kwargs, "files": sorted(p.name for p in folder.iterdir())}
        calls["token"] = self.token
        return type("CommitInfo", (), {"commit_url": f"https://huggingface.co/{REPO}/commit/abc"})()

    monkeypatch.setattr(HfApi, "create_repo", create_repo)
    monkeypatch.setattr(HfApi, "create_branch", create_branch)
    monkeypatch.setattr(HfApi, "upload_folder", upload_folder)
    argv = ["publish", "--model", str(model_dir), "--repo-id", REPO, "--private", "--revision", "v1"]
    argv += ["--commit-message", "first model", "--token", "hf_explicit"]
    assert _run(argv) == 0
    assert calls["create_repo"] == {"repo_id": REPO, "repo_type": "model", "private": True, "exist_ok": True}
    assert calls["create_branch"]["branch"] == "v1" and calls["create_branch"]["exist_ok"] is True
    up = calls["upload_folder"]
    assert up["repo_id"] == REPO and up["revision"] == "v1" and up["commit_message"] == "first model"
    assert {"README.md", "model.safetensors", "rasd.json", "event_head.safetensors"} <= set(up["files"])
    assert calls["token"] == "hf_explicit"
    assert "commit/abc" in capsys.readouterr().out


def test_publish_to_main_creates_no_branch(model_dir: Path, monkeypatch) -> None:
    uploaded = []
    monkeypatch.setattr(HfApi, "create_repo", lambda self, repo_id, **k: f"https://huggingface.co/{repo_id}")
    monkeypatch.setattr(HfApi, "upload_folder", lambda self, **k: uploaded.append(k) or None)
    publish.publish(model_dir, REPO)
    assert uploaded and uploaded[0]["revision"] is None  # create_branch would have failed the test


def test_cli_registers_publish() -> None:
    from rasd.cli import build_parser

    args = build_parser().parse_args(["publish", "--model", "runs/x", "--repo-id", REPO, "--dry-run", "out"])
    assert args.func is publish_cli.run and args.dry_run == Path("out")


# ----------------------------------------------------------------------------- loading by hub id


def test_tagger_loads_by_hub_id_from_offline_cache(model_dir: Path, tmp_path: Path, monkeypatch) -> None:
    """A staged folder placed in the HF cache layout loads by repo id with HF_HUB_OFFLINE=1."""
    from rasd import Tagger

    cache = tmp_path / "hub"
    revision = "0123456789abcdef0123456789abcdef01234567"
    snapshot = cache / f"models--{REPO.replace('/', '--')}" / "snapshots" / revision
    publish.stage(model_dir, snapshot, REPO)
    refs = snapshot.parent.parent / "refs"
    refs.mkdir()
    (refs / "main").write_text(revision)

    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.setenv("HF_HUB_CACHE", str(cache))
    monkeypatch.setattr(constants, "HF_HUB_OFFLINE", True)
    monkeypatch.setattr(constants, "HF_HUB_CACHE", str(cache))
    # The real call: in offline mode the hub's request hook raises before any connection is made.
    monkeypatch.setattr(HfApi, "repo_info", REAL_REPO_INFO)
    by_id = Tagger.from_pretrained(REPO, device="cpu")
    local = Tagger.from_pretrained(model_dir, device="cpu")
    for text in SAMPLES:
        assert by_id(text).to_dict() == local(text).to_dict()
    with pytest.raises(FileNotFoundError):
        Tagger.from_pretrained(REPO.replace("/", "/not-in-cache-"), device="cpu")  # offline cache miss


# ----------------------------------------------------------------------------- Colab notebook

NOTEBOOK = Path(__file__).resolve().parent.parent / "notebooks" / "train_colab.ipynb"
NOTEBOOK_VARS = {"MP": "bf16", "HF_REPO": REPO, "RASD_REPO": "https://github.com/org/rasd"}


def _notebook_commands() -> list[list[str]]:
    """argv of every ``rasd`` command in the notebook (``!rasd ...`` and ``!accelerate launch -m rasd.cli ...``,
    commented variants included), with ``{VAR}`` Python substitutions filled in."""
    import re
    import shlex

    nb = json.loads(NOTEBOOK.read_text(encoding="utf-8"))
    commands = []
    for cell in nb["cells"]:
        if cell["cell_type"] != "code":
            continue
        for line in "".join(cell["source"]).splitlines():
            line = line.strip().removeprefix("#").strip()
            if not line.startswith(("!rasd ", "!accelerate ")):
                continue
            line = re.sub(r"\{(\w+)\}", lambda m: NOTEBOOK_VARS[m.group(1)], line[1:])
            argv = shlex.split(line)
            if argv[0] == "accelerate":
                assert "rasd.cli" in argv, line
                argv = argv[argv.index("rasd.cli") + 1 :]
            else:
                argv = argv[1:]
            commands.append(argv)
    return commands


def test_notebook_is_valid_nbformat() -> None:
    nb = json.loads(NOTEBOOK.read_text(encoding="utf-8"))
    assert nb["nbformat"] == 4 and nb["nbformat_minor"] >= 4
    assert nb["metadata"]["kernelspec"]["language"] == "python"
    for cell in nb["cells"]:
        assert cell["cell_type"] in {"markdown", "code"}
        assert isinstance(cell["source"], list) and all(isinstance(s, str) for s in cell["source"])
        if cell["cell_type"] == "code":
            assert cell["outputs"] == [] and cell["execution_count"] is None
    try:
        import nbformat
    except ImportError:
        return
    nbformat.validate(nbformat.reads(NOTEBOOK.read_text(encoding="utf-8"), as_version=4))


def test_notebook_commands_parse_with_the_rasd_cli() -> None:
    from rasd.cli import build_parser
    from rasd.training.config import load_config

    commands = _notebook_commands()
    names = [argv[0] for argv in commands]
    for needed in ("validate", "train", "evaluate", "tag", "publish"):
        assert needed in names, f"notebook has no `rasd {needed}`"
    parser = build_parser()
    for argv in commands:
        args = parser.parse_args(argv)  # argparse exits (SystemExit) on drift
        if args.command == "train":
            config = load_config(Path(__file__).resolve().parent.parent / args.config, args.overrides)
            assert config.training.mixed_precision == "bf16"
    assert any("--dry-run" in argv for argv in commands if argv[0] == "publish")
    text = NOTEBOOK.read_text(encoding="utf-8")
    for needed in ("notebook_login()", "Tagger.from_pretrained", "pip install", "PLACEHOLDER", "<ORG>"):
        assert needed in text
