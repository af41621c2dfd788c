"""Release tracking: the modules of a traceback, version order, and the commit of a real git checkout."""

import os
import subprocess

import pytest

from engine.detect import release

TRACEBACK = """Traceback (most recent call last):
  File "/usr/lib/python3/dist-packages/odoo/http.py", line 2375, in __call__
    response = request._serve_db()
  File "/usr/lib/python3/dist-packages/odoo/addons/sale/models/sale_order.py", line 901, in action_confirm
    self._action_confirm()
  File "/mnt/extra-addons/my_sale/models/sale_order.py", line 77, in _action_confirm
    self.env['res.partner'].create({})
  File "/mnt/extra-addons/my_sale/models/sale_order.py", line 80, in _copy_partner
    raise ValueError(x)
  File "/usr/lib/python3/dist-packages/odoo/models.py", line 4735, in create
    records = self._create(data_list)
ValueError: boom
"""


def test_the_modules_of_a_traceback_innermost_first_with_their_folders():
    found = release.traceback_modules(TRACEBACK)
    assert list(found) == ["my_sale", "sale"]
    assert found["my_sale"] == "/mnt/extra-addons/my_sale"
    assert found["sale"] == "/usr/lib/python3/dist-packages/odoo/addons/sale"


def test_core_frames_and_plain_text_name_no_module():
    assert release.traceback_modules('File "/usr/lib/python3/dist-packages/odoo/models.py", line 1, in x\n') == {}
    assert release.traceback_modules("") == {}
    assert release.traceback_modules(None) == {}


def test_a_long_traceback_names_at_most_the_bound():
    frames = "".join(f'  File "/srv/addons/module_{index}/models/a.py", line 1, in f\n    x()\n' for index in range(60))
    found = release.traceback_modules(f"Traceback (most recent call last):\n{frames}KeyError: 1\n")
    assert len(found) == release.MAX_MODULES
    assert "module_59" in found  # the innermost are kept


def test_versions_order_by_their_numbers_not_as_text():
    assert release.version_key("18.0.1.10.0") > release.version_key("18.0.1.9.0")
    assert release.is_later({"version": "18.0.1.10.0"}, {"version": "18.0.1.9.0"})
    assert not release.is_later({"version": "18.0.1.9.0"}, {"version": "18.0.1.10.0"})
    assert not release.is_later({"version": "18.0.1.0"}, {"version": "18.0.1.0"})


def test_same_version_is_later_only_when_a_known_commit_moved():
    then = {"version": "18.0.1.0", "commit": "a" * 40}
    assert release.is_later({"version": "18.0.1.0", "commit": "b" * 40}, then)
    assert not release.is_later({"version": "18.0.1.0", "commit": "a" * 40}, then)
    assert not release.is_later({"version": "18.0.1.0", "commit": ""}, then)
    assert not release.is_later({"version": "18.0.1.0"}, {"version": "18.0.1.0"})


def git(cwd, *args):
    env = dict(os.environ, GIT_AUTHOR_NAME="t", GIT_AUTHOR_EMAIL="t@example.com")
    env.update(GIT_COMMITTER_NAME="t", GIT_COMMITTER_EMAIL="t@example.com")
    return subprocess.run(["git", *args], cwd=cwd, check=True, capture_output=True, text=True, env=env).stdout.strip()


@pytest.fixture
def checkout(tmp_path):
    repo = tmp_path / "repo"
    (repo / "my_sale" / "models").mkdir(parents=True)
    (repo / "my_sale" / "__manifest__.py").write_text("{'name': 'x'}\n")
    git(repo, "init", "-q", "-b", "main")
    git(repo, "add", ".")
    git(repo, "commit", "-q", "-m", "one")
    return repo


def test_the_commit_of_a_checkout_and_of_a_deploy_that_moves_the_branch(checkout):
    folder = str(checkout / "my_sale")
    first = git(checkout, "rev-parse", "HEAD")
    assert release.git_commit(folder) == first
    (checkout / "my_sale" / "models" / "a.py").write_text("x = 1\n")
    git(checkout, "add", ".")
    git(checkout, "commit", "-q", "-m", "two")
    second = git(checkout, "rev-parse", "HEAD")
    assert second != first
    assert release.git_commit(folder) == second, "a moved branch is seen although HEAD itself did not change"


def test_packed_refs_detached_heads_and_linked_worktrees(checkout, tmp_path):
    folder = str(checkout / "my_sale")
    head = git(checkout, "rev-parse", "HEAD")
    git(checkout, "pack-refs", "--all")
    assert not (checkout / ".git" / "refs" / "heads" / "main").exists()
    assert release.git_commit(folder) == head
    git(checkout, "checkout", "-q", "--detach")
    assert release.git_commit(folder) == head
    linked = tmp_path / "linked"
    git(checkout, "worktree", "add", "-q", "-b", "other", str(linked))
    assert (linked / ".git").is_file()
    assert release.git_commit(str(linked / "my_sale")) == git(linked, "rev-parse", "HEAD")


def test_outside_a_checkout_there_is_no_commit(tmp_path):
    (tmp_path / "plain" / "my_sale").mkdir(parents=True)
    assert release.git_commit(str(tmp_path / "plain" / "my_sale")) == ""
    assert release.git_commit(str(tmp_path / "missing")) == ""
    assert release.git_commit("") == ""
