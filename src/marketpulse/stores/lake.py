"""The raw lake: ticks as parquet in object storage, partitioned by date and symbol."""

from __future__ import annotations

from typing import Any

from marketpulse.config import Settings
from marketpulse.stores.objectstore import s3fs_options


class LakeWriter:
    """One parquet file per (archive step, date, symbol), named by the step: a redone step overwrites its files."""

    def __init__(self, settings: Settings) -> None:
        import s3fs

        self.fs = s3fs.S3FileSystem(**s3fs_options(settings))
        self.root = f"{settings.s3.buckets['raw']}/ticks"

    def write_ticks(self, ticks: Any, name: str) -> list[str]:
        """ticks: pandas frame with symbol, ts (UTC) and the tick fields; `name` names the files (the same facts
        always under the same name); returns the paths written."""
        import pyarrow as pa
        import pyarrow.parquet as pq

        if ticks.empty:
            return []
        paths = []
        dates = ticks["ts"].dt.strftime("%Y-%m-%d")
        for (date, symbol), part in ticks.groupby([dates, "symbol"], sort=True):
            path = f"{self.root}/date={date}/symbol={symbol}/{name}.parquet"
            table = pa.Table.from_pandas(part.drop(columns=["symbol"]).sort_values("ts"), preserve_index=False)
            with self.fs.open(path, "wb") as handle:
                pq.write_table(table, handle, compression="zstd")
            paths.append(path)
        return paths
