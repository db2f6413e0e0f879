"""Nationality beyond the paper: gaps between cultural clusters and a map of perceivers."""

from __future__ import annotations

import pandas as pd

from empathylab.errors import EmpathylabError
from empathylab.gaps import design
from empathylab.gaps.matrices import delta_matrix

__all__ = ["cluster_means", "perceiver_map"]


def _nationality_matrix(results: pd.DataFrame, what: str) -> tuple[pd.DataFrame, dict[str, str]]:
    """The δ matrix of a nationality run and each identity's cultural cluster."""
    if set(results["grouping"]) != {"nationality"}:
        raise EmpathylabError(
            f"{what} needs the rows of the nationality grouping only, not {sorted(set(results['grouping']))}."
        )
    cluster = {
        f"a person from {country}": name
        for name, countries in design.NATIONALITY_CLUSTERS.items()
        for country in countries
    }
    return delta_matrix(results), cluster


def cluster_means(results: pd.DataFrame) -> pd.DataFrame:
    """Return the δ matrix of nationality (:func:`delta_matrix`) averaged by cultural cluster.

    One row per perceiver cluster and one column per experiencer cluster, in the
    paper's order (the baseline left out, as for δ). ``attrs`` holds three averages over cells:
    ``same_country`` (the diagonal), ``same_cluster`` (two countries of one cluster)
    and ``other_cluster`` (two clusters).

    Examples
    --------
    >>> from empathylab.gaps import simulate_results
    >>> rows = simulate_results("nationality", n_items=6, effect=5.0, seed=0)
    >>> table = cluster_means(rows)
    >>> table.shape, table.attrs["same_country"] > table.attrs["other_cluster"]
    ((8, 8), True)
    """
    matrix, cluster = _nationality_matrix(results, "cluster_means")
    long = matrix.stack().rename("z").reset_index()
    long.columns = ["perceiver", "experiencer", "z"]
    long["perceiver_cluster"] = long["perceiver"].map(cluster)
    long["experiencer_cluster"] = long["experiencer"].map(cluster)
    order = [c for c in design.NATIONALITY_CLUSTERS if c in set(long["perceiver_cluster"])]
    table = long.pivot_table(
        index="perceiver_cluster", columns="experiencer_cluster", values="z", aggfunc="mean"
    ).loc[order, order]
    same = long["perceiver"] == long["experiencer"]
    same_cluster = long["perceiver_cluster"] == long["experiencer_cluster"]
    table.attrs = {
        "same_country": float(long.loc[same, "z"].mean()),
        "same_cluster": float(long.loc[same_cluster & ~same, "z"].mean()),
        "other_cluster": float(long.loc[~same_cluster, "z"].mean()),
    }
    return table


def perceiver_map(results: pd.DataFrame, *, perplexity: float = 5.0, seed: int = 42) -> pd.DataFrame:
    """Return a 2-D t-SNE map of the nationality perceivers, as the authors drew it.

    The authors' ``analysis/visual/tsne.py`` embeds the rows of the nationality δ matrix
    (:func:`delta_matrix`: baseline left out, z-normalised; each perceiver is described
    by the intensities it gives the 21 experiencers) with scikit-learn's t-SNE
    (2 components, perplexity 5, ``random_state=42``) and colours the points by cultural
    cluster. This does the same, with the seed as a parameter. t-SNE keeps neighbours,
    not distances: read the map for who sits near whom.

    Returns
    -------
    frame : pandas.DataFrame
        One row per perceiver in design order: ``perceiver``, ``country``, ``cluster``,
        ``x``, ``y``. ``attrs["silhouette"]`` is the silhouette score of the cultural
        clusters on the matrix rows themselves (Euclidean; from −1 to 1, above 0 when
        perceivers of one cluster rate experiencers more alike than those of other
        clusters), a number that does not depend on the t-SNE layout.

    Examples
    --------
    >>> from empathylab.gaps import simulate_results
    >>> rows = simulate_results("nationality", n_items=4, effect=5.0, seed=0)
    >>> frame = perceiver_map(rows)
    >>> len(frame), list(frame.columns)
    (21, ['perceiver', 'country', 'cluster', 'x', 'y'])
    """
    from sklearn.manifold import TSNE
    from sklearn.metrics import silhouette_score

    matrix, cluster = _nationality_matrix(results, "perceiver_map")
    labels = list(matrix.index)
    n = len(labels)
    if n <= perplexity:
        raise EmpathylabError(
            f"perceiver_map: t-SNE with perplexity {perplexity} needs more than {perplexity:g} "
            f"perceivers; the rows hold {n}."
        )
    points = TSNE(n_components=2, perplexity=perplexity, random_state=seed).fit_transform(matrix.to_numpy())
    frame = pd.DataFrame(
        {
            "perceiver": labels,
            "country": [label.removeprefix("a person from ") for label in labels],
            "cluster": [cluster[label] for label in labels],
            "x": points[:, 0],
            "y": points[:, 1],
        }
    )
    groups = frame["cluster"]
    usable = 1 < groups.nunique() < n
    frame.attrs["silhouette"] = float(silhouette_score(matrix.to_numpy(), groups)) if usable else float("nan")
    return frame
