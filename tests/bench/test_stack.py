"""bench/stack.py: which server deploy/Procfile's web line runs, and the line a comparison swaps in."""

from __future__ import annotations

from pathlib import Path

import pytest

from bench import stack


def _procfile(tmp_path: Path, web: str) -> Path:
    path = tmp_path / "Procfile"
    path.write_text(
        f"# a comment\nweb: PAYLANE_PROCESS=web {web}\n"
        'ws: PAYLANE_PROCESS=web exec daphne --bind 127.0.0.1 --port "$PORT" project.asgi:application\n'
        "proxy: exec nginx\nworker: exec python manage.py db_worker\n"
    )
    return path


@pytest.mark.parametrize("name", sorted(stack.SERVERS))
def test_each_server_in_the_web_line_is_recognised_as_itself(
    name: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(stack, "PROCFILE", _procfile(tmp_path, stack.SERVERS[name]))
    assert stack.production_server() == name


def test_the_repositorys_procfile_runs_gunicorn() -> None:
    assert stack.production_server() == "gunicorn"


def test_a_comparison_swaps_only_the_web_lines_server(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(stack, "PROCFILE", _procfile(tmp_path, stack.SERVERS["gunicorn"]))
    lines = stack.procfile_for("uwsgi").splitlines()
    assert lines[0] == f"web: PAYLANE_PROCESS=web {stack.SERVERS['uwsgi']}"
    assert [line.split(":")[0] for line in lines] == ["web", "ws", "proxy"]  # no worker, no scheduler
    assert stack.procfile_for(None).splitlines()[0] == f"web: PAYLANE_PROCESS=web {stack.SERVERS['gunicorn']}"


def test_a_web_line_without_a_known_server_is_an_error(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(stack, "PROCFILE", _procfile(tmp_path, "exec hypercorn project.asgi:application"))
    with pytest.raises(RuntimeError, match="no server the benchmark knows"):
        stack.production_server()
