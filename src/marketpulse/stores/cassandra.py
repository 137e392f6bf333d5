"""Cassandra: the one way to build a driver Cluster, so every caller gets the same policies."""

from __future__ import annotations

from typing import Any

from marketpulse.config import Settings


def cassandra_cluster(settings: Settings, *, timeout_s: float = 10.0) -> Any:
    """A cassandra-driver Cluster for the configured contact points (call .connect(), then .shutdown())."""
    from cassandra.cluster import EXEC_PROFILE_DEFAULT, Cluster, ExecutionProfile
    from cassandra.policies import DCAwareRoundRobinPolicy, TokenAwarePolicy

    profile = ExecutionProfile(
        # Token-aware routing sends each write to the replica that owns its (symbol, day) partition.
        load_balancing_policy=TokenAwarePolicy(DCAwareRoundRobinPolicy()),
        request_timeout=timeout_s,
    )
    return Cluster(
        settings.cassandra_hosts,
        port=settings.cassandra.port,
        execution_profiles={EXEC_PROFILE_DEFAULT: profile},
        protocol_version=5,
        connect_timeout=timeout_s,
        control_connection_timeout=timeout_s,
    )
