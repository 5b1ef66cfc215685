"""The title-year helpers every reader and text model shares."""

from __future__ import annotations

import polars as pl

from reco.columns import title_without_year, title_year


def test_year_and_bare_title_agree_on_plain_years_spans_and_none() -> None:
    titles = pl.Series("t", ["Heat (1995)", "Friends (1994-2004)", "Sherlock (2010- )",
                             "Brazil", "1984 (1984) "])
    frame = pl.DataFrame(titles).select(year=title_year(pl.col("t")),
                                        bare=title_without_year(pl.col("t")))
    assert frame["year"].to_list() == [1995, 1994, 2010, None, 1984]
    assert frame["bare"].to_list() == ["Heat", "Friends", "Sherlock", "Brazil", "1984"]
