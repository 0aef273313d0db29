"""The report: content model, HTML (escaping, self-containment, tables, a real browser), PDF."""

from __future__ import annotations

import hashlib
import json
import os
import re
import shutil
import subprocess
from html.parser import HTMLParser
from pathlib import Path

import matplotlib
import matplotlib.image
import numpy as np
import pandas as pd
import pytest

from albench import cli, results, stats
from albench.errors import ResultsError, UnknownNameError
from albench.report import (
    FigureBlock,
    ReportOptions,
    build_report,
    figures,
    paginate,
    render_html,
    style,
    write_pdf,
)
from albench.report.style import RC, strategy_styles

EVIL = "<script>alert(1)</script>"
STRATEGIES = ("random", "entropy", EVIL)
DATASETS = ("eurosat", EVIL)
CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
    "--disable-background-networking", "--disable-component-update", "--disable-sync",
]  # fmt: skip


def synthetic_results(
    datasets=DATASETS,
    strategies=STRATEGIES,
    seeds=(0, 1, 2),
    rounds=4,
    n_classes=4,
    seed=0,
    noise=0.005,
    step=0.03,
) -> pd.DataFrame:
    """Rows in the results schema: saturating curves, strategies offset by a known gain
    (``step`` per position in ``strategies``) plus Gaussian ``noise`` per point."""
    rng = np.random.default_rng(seed)
    gain = {name: step * i for i, name in enumerate(strategies)}
    rows = []
    for dataset, strategy, run_seed in (
        (d, s, r) for d in datasets for s in strategies for r in seeds
    ):
        run_id = hashlib.sha256(f"{dataset}|{strategy}|{run_seed}".encode()).hexdigest()[:16]
        counts = np.ones(n_classes, dtype=np.int64)
        for r in range(rounds + 1):
            n = int(counts.sum())
            accuracy = 0.5 + 0.3 * (1 - np.exp(-n / 20)) + gain[strategy] * (r > 0)
            accuracy += rng.normal(0, noise)
            rows.append(
                {
                    "sweep": "synthetic", "run_id": run_id, "dataset": dataset,
                    "backbone": "ViT-B-32", "learner": "linear-probe", "strategy": strategy,
                    "seed": run_seed, "round": r, "n_labelled": n, "n_pseudo": 0,
                    "pseudo_accuracy": np.nan, "n_classes": n_classes, "accuracy": accuracy,
                    "balanced_accuracy": accuracy - 0.01, "labelled_per_class": counts.tolist(),
                    "select_seconds": np.nan if r == 0 else 0.01 + gain[strategy],
                    "train_seconds": 0.5 + 0.1 * rng.random(), "initial": "1/class",
                    "budget": "8", "rounds": rounds, "pool_size": 1000, "test_size": 500,
                    "hyperparameters": json.dumps({"lr": 0.01}), "albench_version": "0.1.0",
                    "git_commit": "abc1234", "torch_version": "2.14.1",
                    "open_clip_version": "2.30.0", "device": "cpu",
                    "finished_at": "2026-11-28T18:00:00Z",
                }
            )  # fmt: skip
            counts = counts + rng.multinomial(8, np.full(n_classes, 1 / n_classes))
    frame = pd.DataFrame(rows)
    return frame.astype({c: "int64" for c in ("seed", "round", "n_labelled", "rounds")})


class _Tables(HTMLParser):
    """Tables of an HTML page: title (preceding <h3>), header, rows, highlighted cells."""

    def __init__(self):
        super().__init__()
        self.tables: dict[str, dict] = {}
        self.images: list[str] = []
        self.tags: list[str] = []
        self._heading, self._cell, self._current = "", None, None
        self._in_h3 = self._strong = False

    def handle_starttag(self, tag, attrs):
        self.tags.append(tag)
        if tag == "h3":
            self._in_h3, self._heading = True, ""
        elif tag == "table":
            self._current = {"header": [], "rows": [], "strong": []}
            self.tables[self._heading] = self._current
        elif tag == "tr" and self._current is not None:
            self._row = []
        elif tag in ("td", "th") and self._current is not None:
            self._cell = ""
        elif tag == "strong" and self._cell is not None:
            self._strong = True
        elif tag == "img":
            self.images.append(dict(attrs)["src"])

    def handle_endtag(self, tag):
        if tag == "h3":
            self._in_h3 = False
        elif tag in ("td", "th") and self._cell is not None:
            self._row.append(self._cell.strip())
            if self._strong:
                self._current["strong"].append((self._row[0], len(self._row) - 1))
            self._cell, self._strong = None, False
        elif tag == "tr" and self._current is not None:
            target = "header" if not self._current["header"] else "rows"
            self._current[target] = self._row if target == "header" else [
                *self._current["rows"], self._row
            ]  # fmt: skip
        elif tag == "table":
            self._current = None

    def handle_data(self, data):
        if self._in_h3:
            self._heading += data
        if self._cell is not None:
            self._cell += data


@pytest.fixture(scope="module")
def frame() -> pd.DataFrame:
    return synthetic_results()


@pytest.fixture(scope="module")
def report(frame):
    return build_report(frame, ReportOptions())


@pytest.fixture(scope="module")
def html(report) -> str:
    return render_html(report)


@pytest.fixture(scope="module")
def parsed(html) -> _Tables:
    parser = _Tables()
    parser.feed(html)
    return parser


def _markup(html: str) -> str:
    """The page without the contents of its script elements."""
    return re.sub(r"(<script[^>]*>).*?(</script>)", r"\1\2", html, flags=re.DOTALL)


def test_user_names_are_escaped(html):
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in html
    assert EVIL not in html
    # the only scripts are plotly.js, the page's own behaviour and JSON chart specs
    assert _markup(html).count("<script") == html.count("<script")
    specs = re.findall(r'<script type="application/json" class="chart-spec">(.*?)</script>', html)
    assert specs and all("<" not in spec for spec in specs)
    names = {trace.get("name") for spec in specs for trace in json.loads(spec)["data"]}
    assert EVIL in names


def test_html_is_self_contained(report, html, parsed):
    markup = _markup(html)
    assert not re.search(r"""(src|href)\s*=\s*["']?\s*(https?:)?//""", markup, re.IGNORECASE)
    assert "<link" not in markup and "@import" not in markup and "url(" not in markup
    assert not re.search(r"<script[^>]*\ssrc=", html)
    assert parsed.images and all(s.startswith("data:image/png;base64,") for s in parsed.images)
    assert len(parsed.images) == len(report.figures())


def test_aubc_table_holds_strategies_and_marks_best(frame, parsed):
    table = parsed.tables["AUBC, full budget"]
    assert table["header"] == ["strategy", *sorted(DATASETS)]
    assert sorted(row[0] for row in table["rows"]) == sorted(STRATEGIES)
    # the best mean AUBC per dataset, recomputed from the raw rows
    best = {}
    for dataset, rows in frame.groupby("dataset"):
        per_run = rows.groupby(["strategy", "seed"]).apply(
            lambda r: stats.aubc(r["n_labelled"], r["accuracy"]), include_groups=False
        )
        best[dataset] = per_run.groupby("strategy").mean().idxmax()
    marked = {table["header"][column]: strategy for strategy, column in table["strong"]}
    assert marked == best


def test_significance_markers_follow_the_tests(report, parsed):
    # EVIL gains most, random least: with 3 seeds and tiny noise EVIL is above the baseline
    row = next(r for r in parsed.tables["AUBC, full budget"]["rows"] if r[0] == EVIL)
    assert all("↑" in cell for cell in row[1:])
    assert "↑" in report.legend and "†" in report.legend


def test_notes_say_what_cannot_be_computed(report):
    notes = " ".join(report.notes)
    assert "Wilcoxon" in notes and "3 pairs: p ≥ 0.25" in notes


def test_single_seed_and_dataset_are_notes_not_failures(frame):
    small = frame[(frame.seed == 0) & (frame.dataset == "eurosat")]
    notes = " ".join(build_report(small).notes)
    assert "Fewer than 2 seeds" in notes
    uneven = frame[(frame.strategy != "entropy") | (frame.seed < 2)]
    assert "ran on different seeds on" in " ".join(build_report(uneven).notes)
    assert "No Friedman test" in notes and "have 3 and 1" in notes


def test_cross_dataset_section_has_friedman_and_cd(report, frame, parsed):
    titles = [block.title for section in report.sections for block in section.blocks]
    assert "Critical difference — all datasets" in titles
    friedman = parsed.tables["Friedman tests"]["rows"][0]
    assert friedman[1:3] == ["2", "3"]


def test_split_sizes_differ_between_datasets_learners_split_groups(frame):
    varied = frame.assign(test_size=frame["dataset"].map({"eurosat": 500, EVIL: 300}))
    twice = pd.concat([varied, varied.assign(learner="coop", run_id=varied.run_id + "c")])
    report = build_report(twice)
    friedman = next(t for t in report.tables() if t.title == "Friedman tests")
    assert list(friedman.frame.index) == ["coop", "linear-probe"]
    assert friedman.frame["datasets (N)"].tolist() == ["2", "2"]


def test_default_output_is_named_after_the_first_results(tmp_path):
    from albench.commands.report import default_out

    assert default_out([tmp_path / "sweep-a", tmp_path / "b"]) == Path("reports/sweep-a.html")
    assert default_out([tmp_path / "runs.parquet"]) == Path("reports/runs.html")


def test_penalty_counts_budget_points_after_the_initial_set(report):
    outcomes = next(t for t in report.tables() if t.title.startswith("Wins, ties and losses"))
    counts = outcomes.frame[["wins", "ties", "losses"]].astype(int).sum(axis=1)
    # 2 opponents x 4 acquisition rounds (round 0 excluded) x 2 datasets
    assert counts.tolist() == [16, 16, 16]
    assert outcomes.frame.loc[EVIL, "wins"] == "16"


def test_bad_input_raises_user_errors(frame):
    with pytest.raises(ResultsError):
        build_report(frame.iloc[0:0])
    with pytest.raises(ResultsError):
        build_report(frame.drop(columns=["accuracy"]))
    with pytest.raises(UnknownNameError, match="baseline"):
        build_report(frame, ReportOptions(baseline="nonesuch"))


def test_names_with_dollars_are_not_mathtext():
    # "$\\frac$" is invalid mathtext: drawing it fails unless math parsing is off
    curves = pd.DataFrame(
        {"env": "d", "strategy": "cost$\\frac$", "n_labelled": [1, 2], "mean": 0.5,
         "half_width": 0.1}
    )  # fmt: skip
    with matplotlib.rc_context(RC):
        figure = figures.curve_panels(
            curves, strategy_styles(["cost$\\frac$"]), "acc", figures.Curves(band="half_width")
        )
    assert FigureBlock("t", figure).png().startswith(b"\x89PNG")


def test_styles_are_distinct_and_order_free():
    styles = strategy_styles(["c", "a", "b"])
    assert list(styles) == ["a", "b", "c"]
    assert styles == strategy_styles(["b", "c", "a"])
    looks = {
        (s.color, s.linestyle, s.marker) for s in strategy_styles(map(str, range(40))).values()
    }
    assert len(looks) == 40


def test_a_strategy_keeps_its_style_whatever_else_is_reported():
    alone = strategy_styles(["random"])["random"]
    among = strategy_styles(["zeta", "badge", "random", "entropy", "my-plugin"])["random"]
    assert alone == among
    plugin = strategy_styles(["my-plugin"])["my-plugin"]
    assert strategy_styles(["my-plugin", "random", "badge"])["my-plugin"] == plugin
    builtins = strategy_styles(style.KNOWN)
    assert len({s.color for s in builtins.values()}) == len(style.KNOWN)


def _contrast_on_white(rgb) -> float:
    """WCAG 2.1 contrast ratio of a colour against white."""
    linear = [c / 12.92 if c <= 0.03928 else ((c + 0.055) / 1.055) ** 2.4 for c in rgb]
    luminance = 0.2126 * linear[0] + 0.7152 * linear[1] + 0.0722 * linear[2]
    return 1.05 / (luminance + 0.05)


def test_every_colour_has_contrast_on_white():
    assert min(_contrast_on_white(style.slot_style(i).color) for i in range(style.SLOTS)) >= 3


@pytest.mark.parametrize("k", range(1, 16))
def test_legend_shows_every_strategy_inside_the_image(k):
    names = [f"strategy-{i}" + "-with-a-long-name" * (i % 3) for i in range(k)]
    curves = pd.DataFrame(
        [{"env": env, "strategy": name, "n_labelled": n, "mean": 0.5, "se": 0.01}
         for env in ("one",) for name in names for n in (10, 20)]
    )  # fmt: skip
    with matplotlib.rc_context(RC):
        figure = figures.curve_panels(
            curves, strategy_styles(names), "acc", figures.Curves(band="se")
        )
        FigureBlock("t", figure).png()
        figure.draw_without_rendering()  # the saved layout, measured at the figure's own dpi
        (legend,) = figure.legends
        shown = [text.get_text() for text in legend.get_texts()]
        box = figure.bbox
        for text in legend.get_texts():
            extent = text.get_window_extent()
            assert box.x0 <= extent.x0 and extent.x1 <= box.x1, text.get_text()
            assert box.y0 <= extent.y0 and extent.y1 <= box.y1, text.get_text()
    assert sorted(shown) == sorted(names)


def test_bands_are_clipped_and_the_y_range_fits_the_data(frame):
    wide = frame.assign(accuracy=np.where(frame["seed"] == 0, 0.02, 0.98))
    for band, polygons in (("ci95", True), ("none", False)):
        report = build_report(wide, ReportOptions(band=band))
        figure = next(f.figure for f in report.figures() if f.title == "Learning curves")
        ax = figure.axes[0]
        low, high = ax.get_ylim()
        assert low > -6 and high < 106  # in %, with matplotlib's margins only
        assert bool(ax.collections) == polygons
        for band_polygon in ax.collections:
            y = band_polygon.get_paths()[0].vertices[:, 1]
            assert y.min() >= 0 and y.max() <= 100


def test_difference_figure_pairs_by_seed_against_the_baseline(report):
    figure = next(f.figure for f in report.figures() if f.title == "Difference from random")
    ax = figure.axes[0]
    labels = {line.get_label() for line in ax.get_lines() if not line.get_label().startswith("_")}
    assert labels == {"entropy", EVIL}
    assert any(list(line.get_ydata()) == [0, 0] for line in ax.get_lines())  # the zero line


def test_class_balance_is_defined_at_every_round(frame):
    # class 3 stays empty in every run: a max / min ratio would be undefined throughout
    empty = frame.assign(labelled_per_class=frame["labelled_per_class"].map(lambda c: [*c[:3], 0]))
    report = build_report(empty)
    figure = next(f.figure for f in report.figures() if f.title == "Class balance")
    lines = [line for line in figure.axes[0].get_lines() if not line.get_label().startswith("_")]
    assert len(lines) == len(STRATEGIES)
    for line in lines:
        y = np.asarray(line.get_ydata(), dtype=float)
        assert len(y) == 5 and np.isfinite(y).all() and (y < 1).all()
    assert not any("undefined" in note for note in report.notes)


def test_penalty_matrix_leaves_the_diagonal_empty(report):
    figure = next(f.figure for f in report.figures() if f.title == "Penalty matrix")
    annotations = [t for t in figure.axes[0].texts if t.get_text()]
    assert len(annotations) == len(STRATEGIES) ** 2 - len(STRATEGIES)


def test_protocols_are_told_apart_not_reported_incomplete(frame):
    longer = synthetic_results(rounds=6).assign(rounds=6)
    longer["run_id"] = longer["run_id"] + "-long"
    report = build_report(pd.concat([frame, longer]))
    assert not any("stopped before" in note for note in report.notes)
    verdict = next(t for t in report.tables() if t.title == "Best strategy against the baseline")
    assert sorted(verdict.frame.index) == sorted(f"{d} · {r}" for d in DATASETS for r in (4, 6))


def test_a_parent_folder_finds_the_sweeps_below_it(tmp_path, frame):
    for learner in ("linear", "coop"):
        runs = tmp_path / "demo" / learner / "runs"
        runs.mkdir(parents=True)
        part = frame[frame["dataset"] == "eurosat"].assign(learner=learner)
        part.to_parquet(runs / f"{learner}.parquet")
    assert results.sweep_folders(tmp_path) == [tmp_path / "demo/coop", tmp_path / "demo/linear"]
    loaded = results.load(tmp_path / "demo")
    assert sorted(loaded["learner"].unique()) == ["coop", "linear"]


def test_reproduce_command_from_a_sweep_record():
    from albench.report.reproduce import command

    spec = {"datasets": ["digits"], "backbones": ["offline-effnet-minilm"], "learners": ["coop"],
            "strategies": ["random", "pcb(badge)"], "seeds": [0, 1, 2, 5], "rounds": 4,
            "budget": "1/class", "initial": "random", "initial_size": "1/class",
            "pseudo_labels": False, "pool_subsample": None,
            "learner_options": {"init": "a photo of a", "steps": 10}, "name": "demo"}  # fmt: skip
    assert command(spec, "results/demo") == (
        "albench run '--strategy=random,pcb(badge)' --dataset=digits "
        "--backbone=offline-effnet-minilm --learner=coop --rounds=4 --budget=1/class "
        "--initial=random --initial-size=1/class --name=demo --seeds=0-2,5 "
        "'--learner-option=init=a photo of a' --learner-option=steps=10 --out=results/demo"
    )


@pytest.fixture
def report_cli(monkeypatch):
    """The CLI with only the report command registered (the others import torch)."""
    monkeypatch.setattr(cli, "COMMANDS", ("report",))
    return cli


def test_cli_writes_html_and_pdf(report_cli, tmp_path, monkeypatch, capsys):
    small = synthetic_results(datasets=("eurosat",), strategies=("random", "entropy"), seeds=(0, 1))
    monkeypatch.setattr(results, "load", lambda paths: small)
    out = tmp_path / "sweep.html"
    assert report_cli.main(["report", str(tmp_path / "sweep"), "--out", str(out), "--pdf"]) == 0
    printed = capsys.readouterr().out.split()
    assert printed == [str(out), str(out.with_suffix(".pdf"))]
    assert out.read_text(encoding="utf-8").startswith("<!DOCTYPE html>")
    assert out.with_suffix(".pdf").read_bytes().startswith(b"%PDF")


def test_cli_unknown_baseline_exits_2(report_cli, frame, tmp_path, monkeypatch, capsys):
    monkeypatch.setattr(results, "load", lambda paths: frame)
    status = report_cli.main(["report", str(tmp_path), "--out", str(tmp_path / "r.html"),
                       "--baseline", "nonesuch"])  # fmt: skip
    error = capsys.readouterr().err
    assert status == 2 and error.count("\n") == 1 and "nonesuch" in error
    assert not (tmp_path / "r.html").exists()


def _missing(what: str) -> None:
    """Skip with the reason, or fail in CI, where every tool of .ci/run must be present."""
    message = f"{what} not found; install it (see .ci/run) to run this check"
    if os.environ.get("CI") == "true":
        pytest.fail(message)
    pytest.skip(message)


def _tool(path: str | None, what: str) -> str:
    if not (path and Path(path).exists()):
        _missing(what)
    return path


_TRACE = """([chart, name]) => document.querySelectorAll('.chart')[chart].data
    .filter(t => t.legendgroup === name).map(t => t.visible === undefined ? true : t.visible)"""


@pytest.mark.browser
def test_report_in_headless_chromium(html, tmp_path):
    chromium = _tool(CHROMIUM, "chromium (/usr/bin/chromium)")
    try:
        from playwright import sync_api
    except ImportError:
        _missing("the playwright Python package")
    page_file = tmp_path / "report.html"
    page_file.write_text(html, encoding="utf-8")
    errors: list[str] = []
    requests: list[str] = []
    with sync_api.sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=chromium, args=CHROMIUM_ARGS)
        try:
            page = browser.new_page(viewport={"width": 1200, "height": 900}, accept_downloads=True)
            page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
            page.on("pageerror", lambda e: errors.append(str(e)))
            page.on("request", lambda r: requests.append(r.url))
            page.goto(page_file.as_uri())
            widths = page.eval_on_selector_all("img", "imgs => imgs.map(i => i.naturalWidth)")
            aubc = "xpath=//h3[text()='AUBC, full budget']/following-sibling::div[1]//table"
            heading = page.inner_text(f"{aubc}//thead")
            body = page.inner_text(f"{aubc}//tbody")
            # a click on a legend entry hides the strategy's curve and its band
            before = page.evaluate(_TRACE, [0, "entropy"])
            chart = page.locator(".chart").first
            chart.locator("g.traces", has_text="entropy").locator("rect.legendtoggle").click()
            page.wait_for_function(
                f"args => ({_TRACE})(args).every(v => v === 'legendonly')", arg=[0, "entropy"]
            )
            after = page.evaluate(_TRACE, [0, "entropy"])
            others = page.evaluate(_TRACE, [0, "random"])
            # sorting by a column, and the table as CSV
            page.locator(f"{aubc}//thead//th[2]").click()
            sorted_rows = page.inner_text(f"{aubc}//tbody").splitlines()
            with page.expect_download() as download:
                page.locator(f"{aubc}/../following-sibling::button[1]").click()
            csv = Path(download.value.path()).read_text(encoding="utf-8")
            page.screenshot(path=str(tmp_path / "report.png"), full_page=True)
        finally:
            browser.close()
    assert errors == []
    assert [url for url in requests if not url.startswith(("file:", "data:", "blob:"))] == []
    assert widths and all(w > 0 for w in widths)
    assert "eurosat" in heading and EVIL in heading
    assert all(name in body for name in STRATEGIES)
    assert before == [True, True] and after == ["legendonly", "legendonly"]
    assert others == [True, True]
    means = [float(row.split("\t")[1].split(" ")[0]) for row in sorted_rows]
    assert means == sorted(means)
    assert csv.splitlines()[0] == f'"strategy","{EVIL}","eurosat"'
    assert (tmp_path / "report.png").stat().st_size > 10_000


def test_pdf_pages_match_the_model_and_are_not_blank(report, tmp_path):
    pdftoppm = _tool(shutil.which("pdftoppm"), "pdftoppm (poppler-utils)")
    pdf = write_pdf(report, tmp_path / "report.pdf")
    subprocess.run([pdftoppm, "-r", "40", "-png", str(pdf), str(tmp_path / "page")], check=True)
    pages = sorted(tmp_path.glob("page-*.png"))
    assert len(pages) == len(paginate(report))
    for page in pages:
        pixels = matplotlib.image.imread(page)[..., :3]
        ink = np.mean(pixels.min(axis=-1) < 0.9)
        assert ink > 0.003, f"{page.name} looks blank ({ink:.4f} of pixels inked)"


def test_pdf_wraps_long_cells_onto_continuation_rows():
    from albench.report.model import TableBlock
    from albench.report.pdf import wrap_cells

    command = "albench run " + " ".join(f"--option-{i}=value-{i}" for i in range(30))
    frame = pd.DataFrame({"command": [command, "short"]}, index=pd.Index([1, 2]))
    block = wrap_cells(TableBlock("Commands", frame, frame == "short", "sweep"), width=80)
    lines = block.frame["command"].tolist()
    assert max(map(len, lines)) <= 80 and " ".join(lines[:-1]) == command
    assert list(block.frame.index) == [1] + [""] * (len(lines) - 2) + [2]
    assert block.highlight["command"].tolist() == [False] * (len(lines) - 1) + [True]


def test_no_best_cell_is_marked_when_all_strategies_tie():
    tied = synthetic_results(("d",), ("random", "entropy", "margin"), noise=0.0, step=0.0)
    report = build_report(tied)
    outcomes = next(t for t in report.tables() if t.title.startswith("Wins, ties and losses"))
    assert outcomes.frame["wins"].tolist() == ["0", "0", "0"]
    assert not outcomes.highlight.to_numpy().any()
    aubc = next(t for t in report.tables() if t.title == "AUBC, full budget")
    assert not aubc.highlight.to_numpy().any()
