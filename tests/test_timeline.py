"""The bounded timeline and its HTML renderer (pure: no clock, no crawl)."""

from __future__ import annotations

import re

import pytest

from scrapy_proxyerrors._timeline import MAX_BANDS, MAX_SERIES, Table, Timeline, render_html


def test_buckets_merge_pairwise_and_keep_every_count() -> None:
    timeline = Timeline(bucket_seconds=1.0, max_buckets=10, start=1000.0)
    for second in range(100):
        timeline.count("request", 1000.0 + second, 2)
    buckets = timeline.series["request"]
    assert len(buckets) <= 10
    assert sum(buckets) == 200 == timeline.totals["request"]
    assert timeline.bucket_seconds == 16.0  # 1 -> 2 -> 4 -> 8 -> 16: 100 s in 7 buckets


def test_memory_is_bounded_for_series_and_bands() -> None:
    timeline = Timeline(max_buckets=50, start=0.0)
    for i in range(MAX_SERIES * 3):
        timeline.count(f"error/code{i}", float(i))
    assert len(timeline.series) <= MAX_SERIES + 1
    assert timeline.series["error/other"]
    assert sum(timeline.totals.values()) == MAX_SERIES * 3
    for i in range(MAX_BANDS * 3):
        timeline.band("pause", f"route {i}", i * 10.0, i * 10.0 + 1)
    assert len(timeline.bands) == MAX_BANDS
    assert timeline.merged_bands == MAX_BANDS * 2


def test_overlapping_bands_with_the_same_reason_become_one() -> None:
    timeline = Timeline(start=0.0)
    timeline.band("pause", "soax account", 1.0, 5.0)
    timeline.band("pause", "soax account", 4.0, 9.0)
    timeline.band("pause", "other", 4.0, 9.0)
    assert [(b.label, b.start, b.end, b.count) for b in timeline.bands] == [
        ("soax account", 1.0, 9.0, 2),
        ("other", 4.0, 9.0, 1),
    ]


def test_events_before_the_start_land_in_the_first_bucket() -> None:
    timeline = Timeline(start=100.0)
    timeline.count("request", 50.0)
    assert timeline.series["request"] == [1]


@pytest.mark.parametrize("bad", [0, -1, float("nan"), float("inf")])
def test_bad_bucket_width_is_refused(bad: float) -> None:
    with pytest.raises(ValueError, match="bucket_seconds"):
        Timeline(bucket_seconds=bad)


def test_html_is_self_contained_and_escaped() -> None:
    timeline = Timeline(start=0.0)
    timeline.count("request", 0.5, 3)
    timeline.count("error/rate_limit", 1.5)
    timeline.band("stop", "<script>alert(1)</script>", 2.0, 3.0)
    page = render_html(
        "A & B", timeline, [Table("Rules", ("code", "n"), [("<b>", 1)])], summary=["one"]
    )
    assert "<script" not in page
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in page
    assert "&lt;b&gt;" in page
    assert "A &amp; B" in page
    # Nothing to fetch: no URL of any scheme in an attribute.
    assert not re.search(r"(src|href)=", page)
    assert "default-src 'none'" in page
    assert page.count("<svg") == 2  # one chart per group: request, error
    assert 'class="band band-stop"' in page


def test_an_empty_timeline_renders() -> None:
    page = render_html("Nothing", Timeline())
    assert "Nothing was recorded" in page
