"""The raw lake: ticks as parquet in object storage, partitioned by date and symbol."""

from __future__ import annotations

from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

from marketpulse.config import S3Settings
from marketpulse.stores.objectstore import section_filesystem

_NS_PER_DAY = 86_400 * 10**9


class LakeWriter:
    """One parquet file per (archive step, date, symbol), named by the step: a redone step overwrites its files."""

    def __init__(self, s3: S3Settings) -> None:
        """s3: a section from `objectstore.s3_section` (its endpoint filled in)."""
        self.fs = section_filesystem(s3)
        self.root = f"{s3.buckets['raw']}/ticks"

    def write_ticks(self, ticks: Any, name: str) -> list[str]:
        """ticks: an Arrow table (or pandas frame) with symbol, ts (UTC) and the tick fields; `name` names the
        files (the same facts always under the same name); returns the paths written."""
        table = ticks if isinstance(ticks, pa.Table) else pa.Table.from_pandas(ticks, preserve_index=False)
        if not table.num_rows:
            return []
        ts_ns = table["ts"].cast(pa.timestamp("ns", tz="UTC")).cast(pa.int64()).to_numpy()
        days = ts_ns // _NS_PER_DAY
        symbols = table["symbol"].combine_chunks().dictionary_encode()
        codes = symbols.indices.to_numpy()
        # Stable: ticks with equal timestamps keep their arrival order inside a file.
        order = np.lexsort((ts_ns, codes, days))
        table, days, codes = table.take(pa.array(order)).drop_columns(["symbol"]), days[order], codes[order]
        bounds = np.flatnonzero((days[1:] != days[:-1]) | (codes[1:] != codes[:-1])) + 1
        paths = []
        for start, end in zip(np.r_[0, bounds], np.r_[bounds, len(order)], strict=True):
            date = np.datetime64(int(days[start]), "D").astype(str)
            symbol = symbols.dictionary[int(codes[start])].as_py()
            path = f"{self.root}/date={date}/symbol={symbol}/{name}.parquet"
            with self.fs.open(path, "wb") as handle:
                pq.write_table(table.slice(start, end - start), handle, compression="zstd")
            paths.append(path)
        return paths
