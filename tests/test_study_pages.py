"""Every study has its page in docs/studies/, and the page lists every option the study has now
(regenerate with ``python docs/make_study_pages.py RUNS_DIR`` when a study changes)."""

import os

import pytest

from brian2learn.studies import REGISTRY, load_study
from brian2learn.studies.options import flag_of

PAGES = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "docs", "studies")


@pytest.mark.parametrize("name", list(REGISTRY))
def test_the_page_of_every_study_lists_its_options_and_outputs(name):
    path = os.path.join(PAGES, f"{name}.md")
    assert os.path.isfile(path), f"docs/studies/{name}.md is missing: run docs/make_study_pages.py"
    text = open(path, encoding="utf-8").read()
    missing = [flag_of(field) for field in load_study(name).Options.cli_fields() if f"`{flag_of(field)}`" not in text]
    assert not missing, f"docs/studies/{name}.md lacks {missing}: run docs/make_study_pages.py"
    assert "**Tables**" in text and "summary.json" in text
